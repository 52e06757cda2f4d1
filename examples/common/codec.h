/*
 * examples/common — protobuf-c messages in and out of gRPC byte buffers.
 *
 * gRPC core moves opaque bytes (grpc_byte_buffer); protobuf-c turns bytes
 * into messages. These two functions are the whole bridge.
 *
 * Thread safety: any thread; no shared state.
 */
#ifndef EXAMPLES_COMMON_CODEC_H
#define EXAMPLES_COMMON_CODEC_H

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <protobuf-c/protobuf-c.h>

/*
 * Serialise `msg` (borrowed) into a new byte buffer. On success `*out` is
 * yours: release it with grpc_byte_buffer_destroy() (or hand it to a
 * batch and destroy it after the batch completed). Returns 0, or
 * EX_ERR_MEMORY with `*out` untouched.
 */
int ex_pack(const ProtobufCMessage *msg, grpc_byte_buffer **out);

/*
 * Parse `buf` (borrowed, not released) as a message of type `type`. On
 * success `*out` is yours: free it with protobuf_c_message_free_unpacked(*out,
 * NULL). Returns 0, or EX_ERR_MESSAGE (not a valid `type` message, or out of
 * memory) with `*out` untouched.
 */
int ex_unpack(grpc_byte_buffer *buf, const ProtobufCMessageDescriptor *type,
              ProtobufCMessage **out);

#endif /* EXAMPLES_COMMON_CODEC_H */
