"""The exercise table: what each exercise asks, where its code is, and the tests that grade it.

Each exercise is one or more *solution regions* in the reference code: the lines between a
``BEGIN SOLUTION ex=<ID>`` comment and an ``END SOLUTION`` comment (the convention of nbgrader and
otter-grader), always inside one function. ``ser course exercises`` replaces every region by a
``raise NotImplementedError("exercise <ID>: <task>")`` and ``ser course grade`` runs the
tests listed here (each carries the pytest marker ``ex_<ID>``, so ``pytest -m ex_M3`` runs
one exercise's tests alone). docs/exercises.md shows the same table with a hint per exercise.

An exercise's tests exercise its region and, where that cannot be avoided, the regions named
in ``needs``: a backward pass needs its forward pass (its cache) and, graded by a
finite-difference gradient check, the gradient check itself (GC); the mel filterbank's band
edges are spaced on the mel scale (M4). tests/course/test_course.py proves, on the stripped
copy and on the reference, that every listed test fails without its region, passes with it,
and runs no other exercise's region than those in ``needs``.

This module is plain data (no NumPy): ``tests/conftest.py`` reads it to register the
markers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHAPTERS", "EXERCISES", "Exercise", "Part", "by_id", "in_chapters", "marker"]

# the parts of docs/index.md that have exercises: number -> title
CHAPTERS = {
    1: "From waveform to MFCC",
    2: "Convolution by hand",
    3: "Gradient checks",
    4: "The document's CNN, trained",
    5: "RNN and the document's gated RNN",
    6: "LSTM and GRU",
    7: "Real speech, evaluated honestly",
}


@dataclass(frozen=True)
class Part:
    """One solution region: the function it sits in and what its stub asks for.

    Attributes
    ----------
    path : str
        The source file, relative to the repository root (``"features/framing.py"``).
    function : str
        The qualified name of the function holding the region (``"CMVNStats.apply"``).
    task : str
        One line for the stub's message: what to implement, with the formula ID.
    """

    path: str
    function: str
    task: str


@dataclass(frozen=True)
class Exercise:
    """One gradable exercise.

    Attributes
    ----------
    id : str
        Letters and digits only: the marker is ``ex_<id>`` (``pytest -m ex_M3``).
    chapter : int
        A key of ``CHAPTERS``.
    title : str
    formula : str
        The formula IDs the exercise implements (docs/formula-key.md, docs/formulas.md).
    points : int
        All or nothing: the points count when every test of the exercise passes.
    parts : tuple of Part
        Its solution regions, one per function.
    tests : tuple of str
        The pytest node IDs that grade it (a parametrised test without brackets stands for
        all its cases); each carries the marker ``ex_<id>``.
    needs : tuple of str
        Other exercises its tests cannot run without (see the module docstring).
    hint : str
        One or two sentences for docs/exercises.md; never the solution.
    """

    id: str
    chapter: int
    title: str
    formula: str
    points: int
    parts: tuple[Part, ...]
    tests: tuple[str, ...]
    needs: tuple[str, ...] = ()
    hint: str = ""

    @property
    def marker(self) -> str:
        """The pytest marker of the exercise's tests, ``ex_<id>``."""
        return marker(self.id)


def marker(exercise_id: str) -> str:
    """``ex_<ID>``: the pytest marker of an exercise's tests."""
    return f"ex_{exercise_id}"


_FRAMING = "tests/features/test_framing.py::"
_SPECTRUM = "tests/features/test_spectrum.py::"
_MEL = "tests/features/test_mel.py::"
_CEPSTRUM = "tests/features/test_cepstrum.py::"
_DELTAS = "tests/features/test_deltas_normalize.py::"
_FUNCTIONAL = "tests/nn/test_functional.py::"
_RECURRENT = "tests/nn/test_recurrent.py::"
_BY_HAND = "tests/course/test_exercise_formulas.py::"

EXERCISES: tuple[Exercise, ...] = (
    # ---- chapter 1: from waveform to MFCC ----
    Exercise(
        "M1",
        1,
        "Pre-emphasis",
        "M1",
        1,
        (
            Part(
                "features/framing.py",
                "preemphasis",
                "pre-emphasis y'[0] = y[0], y'[n] = y[n] - coeff y[n-1], a new float64 array "
                "(eq. M1)",
            ),
        ),
        (
            _FRAMING + "test_preemphasis_matches_the_formula_as_a_loop",
            _FRAMING + "test_preemphasis_equals_scipy_lfilter",
            _FRAMING + "test_preemphasis_does_not_mutate_input",
        ),
        hint="One vectorised line does the whole signal: shift the array by one sample and "
        "subtract. Keep the first sample as it is, and never write into y.",
    ),
    Exercise(
        "M2",
        1,
        "Framing and the analysis window",
        "M2, M2-count, M2-window",
        2,
        (
            Part(
                "features/framing.py",
                "n_frames",
                "the frame count T = 1 + floor((S - L) / H), or 1 + ceil((S - L) / H) with "
                "pad_end (eq. M2-count)",
            ),
            Part(
                "features/framing.py",
                "frame_view",
                "the (count, L) frames of the padded y, frames[m, n] = y[m H + n] (eq. M2)",
            ),
            Part(
                "features/framing.py",
                "get_window",
                "w[n] = a0 - (1 - a0) cos(2 pi n / D), a0 = 0.54 (hamming) or 0.5 (hann), "
                "D = L - 1, or L when periodic (eq. M2-window)",
            ),
        ),
        (
            _FRAMING + "test_frame_count_formula_and_frame_contents",
            _FRAMING + "test_pad_end_keeps_the_partial_last_frame_zero_padded",
            _FRAMING + "test_center_pads_half_a_window_so_frame_m_is_centred_on_sample_m_hop",
            _FRAMING + "test_frames_are_a_copy_not_a_view",
            _FRAMING + "test_symmetric_windows_equal_numpy",
            _FRAMING + "test_periodic_windows_equal_scipy_fftbins",
            _FRAMING + "test_periodic_window_is_the_symmetric_one_of_length_plus_one_"
            "without_its_last_sample",
            _FRAMING + "test_hamming_formula_m2_evaluated_pointwise",
        ),
        hint="numpy.lib.stride_tricks.sliding_window_view(y, L) holds every window of L "
        "samples: keep every H-th. Ceiling division of integers is -(-a // b). A one-sample "
        "symmetric window is [1.0] (D = 0).",
    ),
    Exercise(
        "M3",
        1,
        "The power spectrum",
        "M3-power",
        1,
        (
            Part(
                "features/spectrum.py",
                "power_spectrum",
                "P_m[k] = |X_m[k]|^2 / N (scale 'n_fft') or |X_m[k]|^2 (scale 'none'), "
                "X = stft(frames, n_fft=N); another scale is a ValueError (eq. M3-power)",
            ),
        ),
        (
            _SPECTRUM + "test_power_spectrum_scales",
            _SPECTRUM + "test_a_tone_on_a_bin_puts_its_power_in_that_bin",
        ),
        hint="stft is given. |X|^2 is X.real**2 + X.imag**2, without the square root that "
        "np.abs takes.",
    ),
    Exercise(
        "M4",
        1,
        "The mel scale",
        "M4, M4-inverse",
        1,
        (
            Part(
                "features/mel.py",
                "hz_to_mel",
                "m = 2595 log10(1 + f / 700) (htk); slaney: f / (200/3) below 1 kHz, "
                "15 + ln(f / 1000) / (ln(6.4) / 27) above (eq. M4)",
            ),
            Part(
                "features/mel.py",
                "mel_to_hz",
                "the exact inverse of hz_to_mel for the same scale (eq. M4-inverse)",
            ),
        ),
        (
            _MEL + "test_htk_mel_formula_pointwise",
            _MEL + "test_slaney_mel_is_linear_below_1khz_and_logarithmic_above",
            _MEL + "test_mel_to_hz_inverts_hz_to_mel",
        ),
        hint="The Slaney constants are defined at the top of features/mel.py. np.where "
        "evaluates both of its branches: keep log() away from 0 where its result is not used.",
    ),
    Exercise(
        "M5",
        1,
        "The triangular mel filterbank",
        "M5",
        2,
        (
            Part(
                "features/mel.py",
                "_filterbank_cached",
                "fbank (J, B): triangle j of mel_filterbank's docstring at the bin "
                "frequencies f_k = k sr / n_fft, from the band edges edges_hz (eq. M5)",
            ),
        ),
        (
            _MEL + "test_filterbank_shape_non_negative_and_htk_peak_one",
            _MEL + "test_filterbank_formula_m5_evaluated_for_one_bin",
            _MEL + "test_neighbouring_triangles_sum_to_one_between_first_and_last_centre",
            _MEL + "test_a_tone_lands_in_the_band_whose_centre_is_nearest",
            _MEL + "test_slaney_norm_gives_each_triangle_unit_area_in_hz",
        ),
        needs=("M4",),
        hint="Lower edges, centres and upper edges as column vectors (J, 1) against the bin "
        "frequencies (B,) broadcast to (J, B) in one step. Each side of a triangle is a "
        "straight line; the triangle is the smaller of the two, floored at 0.",
    ),
    Exercise(
        "M6",
        1,
        "The log, with a floor",
        "M6",
        1,
        (
            Part(
                "features/compression.py",
                "log_compress",
                "L = ln(max(E, floor)) or 10 log10(max(E, floor)); top_db (dB only) raises L "
                "to max(L) - top_db; top_db with 'ln', or below 0, is a ValueError (eq. M6)",
            ),
        ),
        (
            _CEPSTRUM + "test_log_floor_keeps_silence_finite",
            _CEPSTRUM + "test_ln_versus_db_differ_by_a_constant_factor",
            _BY_HAND + "test_log_compress_m6_in_db_with_top_db_by_hand",
        ),
        hint="np.maximum(E, floor) before the log keeps silence finite (log(0) is -inf).",
    ),
    Exercise(
        "M7",
        1,
        "The DCT-II as a matrix",
        "M7",
        2,
        (
            Part(
                "features/cepstrum.py",
                "_dct_matrix_cached",
                "basis (n_out, n_in): s_n cos(pi n (j + 1/2) / J), s_0 = sqrt(1/J), "
                "s_n = sqrt(2/J) (ortho), or 2 cos(...) (norm None) (eq. M7)",
            ),
        ),
        (
            _CEPSTRUM + "test_dct_formula_m7_as_an_explicit_loop",
            _CEPSTRUM + "test_dct_equals_scipy",
            _CEPSTRUM + "test_orthonormal_dct_matrix_is_orthogonal",
            _CEPSTRUM + "test_dct_of_a_constant_is_an_impulse",
        ),
        hint="A column of output indices n[:, None] against a row of input indices j[None, :] "
        "builds the whole matrix at once; only row 0 has a different scale.",
    ),
    Exercise(
        "M8",
        1,
        "The sinusoidal lifter",
        "M8",
        1,
        (
            Part(
                "features/cepstrum.py",
                "lifter_weights",
                "w[i] = 1 + (L / 2) sin(pi n / L) with n = i + first_index, shape (C,) (eq. M8)",
            ),
        ),
        (
            _CEPSTRUM + "test_lifter_formula_m8_as_a_loop_from_index_zero",
            _CEPSTRUM + "test_lifter_applies_weights_and_zero_switches_it_off",
            _BY_HAND + "test_lifter_weights_m8_with_librosas_offset_by_hand",
        ),
        hint="np.arange(C) + first_index gives n; the rest is the formula as written.",
    ),
    Exercise(
        "M9",
        1,
        "Regression deltas",
        "M9",
        2,
        (
            Part(
                "features/deltas.py",
                "deltas",
                "d_t = sum_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..N} n^2), the first and "
                "last frames replicated beyond the edges (eq. M9)",
            ),
        ),
        (
            _DELTAS + "test_deltas_formula_m9_as_a_loop_with_edge_replication",
            _DELTAS + "test_deltas_of_a_linear_ramp_equal_its_slope_in_the_interior",
            _DELTAS + "test_add_deltas_stacks_39_features",
        ),
        hint="np.pad(c, ((N, N), (0, 0)), mode='edge') replicates the edges; then every n is "
        "two shifted slices of the padded array: no loop over t.",
    ),
    Exercise(
        "M10",
        1,
        "Cepstral mean and variance normalisation",
        "M10",
        2,
        (
            Part(
                "features/normalize.py",
                "CMVNStats.from_features",
                "return cls(mu, sigma, n_frames): the mean and the standard deviation (1/T, "
                "not 1/(T-1)) of each coefficient over the stacked frames (eq. M10)",
            ),
            Part(
                "features/normalize.py",
                "CMVNStats.apply",
                "(x - mean) / max(std, 1e-8) per coefficient, or x - mean when variance is "
                "False (eq. M10)",
            ),
        ),
        (
            _DELTAS + "test_cmvn_formula_m10",
            _DELTAS + "test_cmvn_of_a_constant_coefficient_stays_finite",
            _DELTAS + "test_fitted_statistics_come_from_training_data_only",
            _DELTAS + "test_per_speaker_statistics_and_unknown_speaker",
        ),
        hint="np.std's default (ddof=0) is the formula's 1/T. The floor is the module's "
        "_STD_FLOOR, so that a constant coefficient divides by 1e-8, not by 0.",
    ),
    # ---- chapter 2: convolution by hand ----
    Exercise(
        "C1",
        2,
        "Convolution, forward",
        "C1",
        2,
        (
            Part(
                "nn/functional/conv.py",
                "conv2d_forward",
                "out (N, H_out, W_out, F) = b[f] + sum_{p,q,c} xp[n, i SH + p, j SW + q, c] "
                "W[p, q, c, f], b may be None (eq. C1)",
            ),
        ),
        (
            _FUNCTIONAL + "test_conv2d_is_the_formula_c1_as_loops",
            _FUNCTIONAL + "test_cross_correlation_versus_convolution",
        ),
        hint="Loop over the kernel offsets (p, q) only: the strided slice "
        "xp[:, p : p + SH*H_out : SH, q : q + SW*W_out : SW, :] is (N, H_out, W_out, C), and "
        "its matrix product with W[p, q] (C, F) is one term of the sum.",
    ),
    Exercise(
        "C1b",
        2,
        "Convolution, backward",
        "C1-b, C1-c, C1-d",
        3,
        (
            Part(
                "nn/functional/conv.py",
                "conv2d_backward",
                "dW[p, q] = sum window^T dout, dxp[window] += dout W[p, q]^T, db = sum dout, "
                "dx = dxp without its padding (None unless need_dx) (eqs. C1-b..C1-d)",
            ),
        ),
        (_FUNCTIONAL + "test_conv2d",),
        needs=("C1", "GC"),
        hint="Walk the same (p, q) offsets as the forward pass: each term of the forward sum "
        "sends its gradient back to the same slice it read. Overlapping windows add up (+=).",
    ),
    Exercise(
        "C2",
        2,
        "Max pooling, forward",
        "C2",
        1,
        (
            Part(
                "nn/functional/pool.py",
                "maxpool2d_forward",
                "out = the maximum of each window, and arg = p PW + q of its first maximum in "
                "row-major order, both (N, H_out, W_out, C) (eq. C2)",
            ),
        ),
        (_BY_HAND + "test_maxpool_forward_is_the_formula_c2_as_loops",),
        hint="Stack the PH*PW strided slices of xp on a new last axis: argmax over it picks "
        "the first maximum (the tie rule), and take_along_axis reads its value.",
    ),
    Exercise(
        "C2b",
        2,
        "Max pooling, backward",
        "C2-b",
        2,
        (
            Part(
                "nn/functional/pool.py",
                "maxpool2d_backward",
                "dx (N, H, W, C): each dout[n, i, j, c] goes to its window's maximum, "
                "(p, q) = divmod(arg, PW), the padding cropped (eq. C2-b)",
            ),
        ),
        (
            _FUNCTIONAL + "test_maxpool_gradient_without_ties",
            _FUNCTIONAL
            + "test_maxpool_tie_rule_first_maximum_in_row_major_order_gets_the_gradient",
        ),
        needs=("C2", "GC"),
        hint="For each k = p*PW + q, add np.where(arg == k, dout, 0) into the strided slice "
        "of offset (p, q) of a padded array of zeros; crop the padding at the end.",
    ),
    Exercise(
        "C3",
        2,
        "Average pooling, forward",
        "C3",
        1,
        (
            Part(
                "nn/functional/pool.py",
                "avgpool2d_forward",
                "out = the sum of each window / K_ij, K_ij its real (unpadded) inputs; counts "
                "(H_out, W_out) holds every K_ij for the cache (eq. C3)",
            ),
        ),
        (_BY_HAND + "test_avgpool_forward_is_the_formula_c3_as_loops",),
        hint="Pool an array of ones, zero-padded the same way as x, to count the real inputs "
        "of each window.",
    ),
    Exercise(
        "C3b",
        2,
        "Average pooling, backward",
        "C3-b",
        2,
        (
            Part(
                "nn/functional/pool.py",
                "avgpool2d_backward",
                "dx (N, H, W, C): every input of a window gets dout / K_ij, the padding "
                "cropped (eq. C3-b)",
            ),
        ),
        (_FUNCTIONAL + "test_avgpool_gradient",),
        needs=("C3", "GC"),
        hint="The forward pass's loop over (p, q), run backwards: each offset's slice "
        "receives the same share dout / counts.",
    ),
    Exercise(
        "C4",
        2,
        "ReLU, forward and backward",
        "C4",
        1,
        (
            Part(
                "nn/functional/activations.py",
                "relu_forward",
                "a = max(0, x) and the cache mask = x > 0 (eq. C4)",
            ),
            Part(
                "nn/functional/activations.py",
                "relu_backward",
                "dx = dout where x > 0, else 0: ReLU'(0) = 0 (eq. C4)",
            ),
        ),
        (_FUNCTIONAL + "test_relu_gradient_away_from_the_kink_and_its_convention_at_zero",),
        needs=("GC",),
        hint="Compare rather than multiply: x * mask gives -0.0 for the negative inputs. The "
        "backward pass needs only the mask.",
    ),
    Exercise(
        "ACT",
        2,
        "The derivatives of tanh and sigmoid",
        "S3.2",
        1,
        (
            Part(
                "nn/functional/activations.py",
                "tanh_backward",
                "dx = dout (1 - a^2), with a = tanh(x) from the cache (S3.2)",
            ),
            Part(
                "nn/functional/activations.py",
                "sigmoid_backward",
                "dx = dout a (1 - a), with a = sigmoid(x) from the cache",
            ),
        ),
        (
            _FUNCTIONAL + "test_smooth_activations[tanh]",
            _FUNCTIONAL + "test_smooth_activations[sigmoid]",
        ),
        needs=("GC",),
        hint="Both derivatives can be written with the output a alone, which is why the "
        "forward pass caches a and not x.",
    ),
    Exercise(
        "SM",
        2,
        "Softmax, forward and backward",
        "S3.2",
        2,
        (
            Part(
                "nn/functional/activations.py",
                "softmax",
                "softmax(z)_k = exp(z_k - max z) / sum_j exp(z_j - max z) along axis (S3.2)",
            ),
            Part(
                "nn/functional/activations.py",
                "softmax_backward",
                "dz = s (dout - sum_j dout_j s_j): the Jacobian diag(s) - s s^T applied to "
                "dout (S3.2)",
            ),
        ),
        (
            _FUNCTIONAL + "test_smooth_activations[softmax]",
            _FUNCTIONAL + "test_softmax_is_stable_and_sums_to_one",
        ),
        needs=("GC",),
        hint="Subtract the maximum with keepdims=True so that it broadcasts: exp(1000) "
        "overflows, exp(0) does not, and the quotient is the same.",
    ),
    # ---- chapter 3: gradient checks ----
    Exercise(
        "GC",
        3,
        "The gradient check itself",
        "G-1",
        2,
        (
            Part(
                "nn/gradcheck.py",
                "rel_error",
                "max over elements of |a - b| / max(1e-8, |a| + |b|), as a float "
                "(docs/cnn.md, Gradient checks)",
            ),
            Part(
                "nn/gradcheck.py",
                "numerical_grad",
                "g[i] = (sum(f(x + h e_i) dout) - sum(f(x - h e_i) dout)) / (2 h), x perturbed "
                "in place and restored (eq. G-1)",
            ),
        ),
        (
            _FUNCTIONAL + "test_dense",
            _FUNCTIONAL + "test_gradcheck_catches_a_wrong_gradient",
            _BY_HAND + "test_numerical_grad_g1_of_a_known_function",
            _BY_HAND + "test_rel_error_by_hand",
        ),
        hint="np.ndindex(x.shape) walks every element. Copy f's output before you perturb x "
        "again (f may return a view of x), and put x[ix] back afterwards.",
    ),
    # ---- chapter 4: training ----
    Exercise(
        "CE",
        4,
        "Softmax cross-entropy",
        "CE, CE-b",
        2,
        (
            Part(
                "nn/functional/losses.py",
                "log_softmax",
                "log softmax(z)_k = z_k - max z - log sum_j exp(z_j - max z), last axis",
            ),
            Part(
                "nn/functional/losses.py",
                "softmax_cross_entropy_forward",
                "L = -(1/N) sum_n sum_k y[n, k] log softmax(z[n])_k as a float, and the "
                "cache (softmax(z), y) (eq. CE)",
            ),
            Part(
                "nn/functional/losses.py",
                "softmax_cross_entropy_backward",
                "dz = dloss (softmax(z) - y) / N (eq. CE-b)",
            ),
        ),
        (
            _FUNCTIONAL + "test_cross_entropy_of_a_confident_wrong_answer_is_finite",
            _BY_HAND + "test_softmax_cross_entropy_ce_by_hand",
        ),
        hint="Never log(softmax(z)): a confident wrong answer rounds a probability to 0, "
        "whose log is -inf. The backward pass needs only the probabilities and the labels.",
    ),
    Exercise(
        "ADAM",
        4,
        "The Adam update",
        "O-2",
        2,
        (
            Part(
                "nn/functional/optim.py",
                "adam_update",
                "in place: t += 1, m += (1 - beta_1)(dw - m), v += (1 - beta_2)(dw^2 - v), "
                "w -= alpha m / (sqrt(v) + eps), alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t);"
                " state holds m, v, t (eq. O-2)",
            ),
        ),
        (
            "tests/nn/test_training.py::test_adam_update_matches_the_keras_formula_by_hand",
            _BY_HAND + "test_adam_update_o2_three_steps_by_hand",
        ),
        hint="On the first call create state['m'] and state['v'] (zeros like w) and "
        "state['t'] = 0. Update w, m and v in place (w -= ...), never w = ...: the caller "
        "keeps these arrays.",
    ),
    # ---- chapter 5: RNN ----
    Exercise(
        "RNN",
        5,
        "Elman RNN step, forward",
        "R0",
        1,
        (
            Part(
                "nn/functional/rnn.py",
                "rnn_step_forward",
                "h = tanh(x_t W + h_prev U + b), b may be None (eq. R0)",
            ),
        ),
        (_BY_HAND + "test_elman_step_r0_by_hand",),
        hint="Examples are rows: x_t W (N, D) @ (D, H), not W x_t as the column-vector "
        "formula reads.",
    ),
    Exercise(
        "RNNb",
        5,
        "Elman RNN step, backward",
        "R0-b",
        2,
        (
            Part(
                "nn/functional/rnn.py",
                "rnn_step_backward",
                "with da = dh (1 - h^2): dx_t = da W^T, dh_prev = da U^T, dW = x_t^T da, "
                "dU = h_prev^T da, db = sum_n da or None (eq. R0-b)",
            ),
        ),
        (_RECURRENT + "test_step_gradients[rnn]",),
        needs=("RNN", "GC"),
        hint="Everything goes through the pre-activation a: find da first, then each "
        "gradient is one matrix product with the right transpose (check the shapes).",
    ),
    # ---- chapter 6: LSTM and GRU ----
    Exercise(
        "LSTM",
        6,
        "LSTM step, forward",
        "L1-L5",
        2,
        (
            Part(
                "nn/functional/lstm.py",
                "lstm_step_forward",
                "a = x_t W + h_prev U (+ b) = [a_i | a_f | a_g | a_o]; i, f, o = sigmoid, "
                "g = tanh, c = f c_prev + i g, h = o tanh(c), tanh_c for the cache (eqs. L1-L5)",
            ),
        ),
        (_BY_HAND + "test_lstm_step_l1_l5_by_hand",),
        hint="Gate order i, f, g, o: columns [0:H], [H:2H], [2H:3H], [3H:4H] of a. sigmoid is "
        "imported from nn.functional.activations (the stable one).",
    ),
    Exercise(
        "LSTMb",
        6,
        "LSTM step, backward",
        "L-b1..L-b4",
        3,
        (
            Part(
                "nn/functional/lstm.py",
                "lstm_step_backward",
                "dC = dc + dh o (1 - tanh(C)^2), da = [di i(1-i) | df f(1-f) | dg (1-g^2) | "
                "do o(1-o)]; dx_t, dh_prev, dc_prev = dC f, dW, dU, db (eqs. L-b1..L-b4)",
            ),
        ),
        (_RECURRENT + "test_step_gradients[lstm]",),
        needs=("LSTM", "GC"),
        hint="The cell state reaches the loss two ways: through h_t = o tanh(C_t) and "
        "directly (dc, from the next step); add both before you go into the gates.",
    ),
    Exercise(
        "GRU",
        6,
        "GRU step, forward",
        "G1-G4",
        2,
        (
            Part(
                "nn/functional/gru.py",
                "gru_step_forward",
                "z, r = sigmoid(x W + b_in + h_prev U (+ b_rec)) by thirds; h~ of G3a "
                "(reset_after) or G3b; h = z h_prev + (1 - z) h~; rec_h for the cache "
                "(eqs. G1-G4)",
            ),
        ),
        (_BY_HAND + "test_gru_step_g1_g4_by_hand",),
        hint="Gate order z, r, h: columns [0:H], [H:2H], [2H:3H]. b_in and b_rec come from "
        "_split_bias (None when absent). rec_h is h_prev U_h + b'_h with reset_after, and "
        "r h_prev without.",
    ),
    Exercise(
        "GRUb",
        6,
        "GRU step, backward",
        "G-b1..G-b4",
        3,
        (
            Part(
                "nn/functional/gru.py",
                "gru_step_backward",
                "dz = dh (h_prev - h~), da_h = dh (1 - z)(1 - h~^2), then dr, da_z, da_r and "
                "dx_t, dh_prev, dW, dU, db, for both forms (eqs. G-b1..G-b4)",
            ),
        ),
        (
            _RECURRENT + "test_step_gradients[gru]",
            _RECURRENT + "test_step_gradients[gru_cho]",
        ),
        needs=("GRU", "GC"),
        hint="h_{t-1} reaches h_t three ways (directly through z h_{t-1}, through the gates' "
        "products with U, and, for reset_after=False, through r h_{t-1}): dh_prev is their sum.",
    ),
    # ---- chapter 7: evaluation ----
    Exercise(
        "UAR",
        7,
        "Unweighted average recall",
        "UAR (docs/evaluation.md)",
        1,
        (
            Part(
                "nn/metrics.py",
                "per_class_recall",
                "recall_i = C[i, i] / sum_j C[i, j] from confusion_matrix, NaN for a class "
                "with no examples, shape (K,)",
            ),
            Part(
                "nn/metrics.py",
                "uar",
                "the mean of per_class_recall over the classes present in y_true (NaN left "
                "out), as a float",
            ),
        ),
        (
            "tests/nn/test_metrics.py::test_accuracy_recall_uar_f1_by_hand",
            "tests/nn/test_metrics.py::test_uar_is_not_fooled_by_the_majority_class",
            "tests/nn/test_metrics.py::test_absent_class_is_nan_recall_and_left_out_of_uar",
        ),
        hint="The row sums of the confusion matrix are each class's number of examples; "
        "np.nanmean leaves out the classes that have none.",
    ),
)

_BY_ID = {exercise.id: exercise for exercise in EXERCISES}


def by_id(exercise_id: str) -> Exercise:
    """The exercise with this ID (``KeyError`` naming the known IDs otherwise)."""
    try:
        return _BY_ID[exercise_id]
    except KeyError:
        raise KeyError(
            f"no exercise {exercise_id!r}; the exercises are {', '.join(_BY_ID)}"
        ) from None


def in_chapters(chapters=None) -> tuple[Exercise, ...]:
    """The exercises of these chapters (numbers, see ``CHAPTERS``), in table order; all of
    them for None."""
    if chapters is None:
        return EXERCISES
    wanted = set(chapters)
    return tuple(exercise for exercise in EXERCISES if exercise.chapter in wanted)
