"""THE ENGINE: the compute machinery the Numba twins share. It mirrors no formula.

``nn/functional`` says what a layer computes; ``nn/kernels`` computes the same thing fast,
one twin per functional module with the same function names. What makes the twins fast, and
would hide the formula if it lived inside them, is here:

==========================  ==========================================  ==========================
module                      what it is for                              used by the twins of
==========================  ==========================================  ==========================
``simd``                    SIMD vectors: load, store, broadcast, fused  ``direct_conv``,
                            multiply-add, so partial sums stay in        ``step_product``,
                            registers                                    ``sequence_gradients``
``vmath``                   exp, expm1, sigmoid, tanh that a compiled    ``rows`` (every recurrent
                            loop can vectorise (``math.exp`` is a call)  cell's gates)
``rows``                    element-wise operations on one row, written  ``kernels.rnn``,
                            so LLVM turns each loop into SIMD code       ``seed_rnn``, ``lstm``,
                                                                         ``gru``
``step_product``            the recurrent product of one time step as   ``kernels.lstm``
                            register tiles (a few batch rows x U)
``sequence_gradients``      dW, dU, db summed over every time step after ``kernels.lstm``
                            the backward loop, on register tiles
``time_major``              (T, N, .) layout, the mask, denormal         every recurrent twin
                            flushing, BLAS products without copies
``direct_conv``             stride-1 convolution without im2col,         ``kernels.conv``
                            register-blocked over the input itself
``threads``                 how many threads Numba's parallel loops use  ``kernels.conv``,
                                                                         ``kernels.lstm``,
                                                                         ``nn.backend``
==========================  ==========================================  ==========================

Each module's own docstring says why it exists and what it measured. A student reads
``nn/functional`` first, ``nn/kernels`` second, and this only to see how the speed is made.
"""
