"""ser: the speech-emotion-recognition application (corpora, pipeline, command line)."""

__version__ = "0.1.0"
