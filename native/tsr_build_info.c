/* What the native library was built from. native/build.ts compiles this file beside the kernels
   with TSR_SOURCE_SHA256 set to the SHA-256 of their sources (src/codec_native/source_digest.ts),
   and the loader refuses a library whose sources differ from the ones beside it: the same
   interface version is no proof of the same code. Not part of the WebAssembly build, which is
   checked against its committed binary instead. */
#ifndef TSR_SOURCE_SHA256
#define TSR_SOURCE_SHA256 ""
#endif

const char *tsr_source_sha256(void) { return TSR_SOURCE_SHA256; }
