#include "common/codec.h"

#include <grpc/slice.h>

#include "common/status.h"

int ex_pack(const ProtobufCMessage *msg, grpc_byte_buffer **out) {
  size_t size = protobuf_c_message_get_packed_size(msg);
  /* grpc_slice_malloc aborts rather than return NULL when memory runs out:
   * gRPC core's own policy, so there is no failure to check here. */
  grpc_slice slice = grpc_slice_malloc(size);
  protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
  grpc_byte_buffer *buf = grpc_raw_byte_buffer_create(&slice, 1); /* takes its own reference */
  grpc_slice_unref(slice);
  if (!buf) return EX_ERR_MEMORY;
  *out = buf;
  return 0;
}

int ex_unpack(grpc_byte_buffer *buf, const ProtobufCMessageDescriptor *type,
              ProtobufCMessage **out) {
  /* A received buffer may be split into several slices, or compressed: the
   * reader undoes both, and readall gives one contiguous slice. */
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, buf)) return EX_ERR_MESSAGE;
  grpc_slice bytes = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  ProtobufCMessage *msg =
      protobuf_c_message_unpack(type, NULL, GRPC_SLICE_LENGTH(bytes), GRPC_SLICE_START_PTR(bytes));
  grpc_slice_unref(bytes);
  if (!msg) return EX_ERR_MESSAGE;
  *out = msg;
  return 0;
}
