// The lossless wire codec on the GPU: decode a blob into a slot, encode a slot into a blob, byte for byte what the
// CPU codec (core/wire_codec.h) reads and writes. Plain pointers only: no CUDA or LibTorch header needed.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace zo2 {

// Decodes the blob at `blob` (device memory, 16-byte aligned, encoded from n elements of `dtype`) into `out` (n
// words, device memory), enqueued on `stream` (a cudaStream_t; nullptr: the default stream); no synchronisation.
// The blob is trusted: it was made by wire_codec_encode or wire_codec_encode_cuda and checked where it came in
// (wire_codec_header on the host).
void wire_codec_decode_cuda(const void* blob, DType dtype, int64_t n, uint16_t* out, void* stream);

// Scratch (device memory) wire_codec_encode_cuda needs for n elements.
int64_t wire_codec_cuda_scratch_bytes(int64_t n);

// Encodes n words of `src` (device memory) with the table of the blob `table_blob` (device memory; its first
// kWireTableEnd bytes are read, so any blob encoded with that table, or one being overwritten: `out` may equal
// `table_blob`) into `out` (device memory, 16-byte aligned, wire_codec_max_bytes(n) bytes). dtype must be the
// table's. The blob's size is written into its header (WireCodecHeader::encoded_bytes, device side); what precedes
// the stream, wire_codec_stream_offset(n) bytes, depends on n only.
void wire_codec_encode_cuda(const void* table_blob, DType dtype, const uint16_t* src, int64_t n, void* out,
                            void* scratch, void* stream);

}  // namespace zo2
