// Emulator stand-in for CUDA's math_constants.h: the constants kernels/cuda uses.
#pragma once
#define CUDART_INF_F __builtin_inff()
