/* The four functions the kernel uses, as compiler builtins: WebAssembly has no C library here, and
 * with bulk memory the builtins become memory.copy and memory.fill instructions. */
#ifndef TSR_WASM_STRING_H
#define TSR_WASM_STRING_H
#include <stddef.h>
#define memcpy __builtin_memcpy
#define memmove __builtin_memmove
#define memset __builtin_memset
#define memcmp __builtin_memcmp
#endif
