/* Uses only the installed public headers and library (the traceparent API
 * of rpctrace/context.h): parse a W3C traceparent and format it back.
 * Exit status 0 only on an exact round trip. */
#include <rpctrace/rpctrace.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  static const char in[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  rpct_span_context ctx;
  int rc = rpct_traceparent_parse(in, strlen(in), &ctx);
  if (rc != RPCT_OK) {
    fprintf(stderr, "consumer: rpct_traceparent_parse returned %d\n", rc);
    return 1;
  }
  char out[RPCT_TRACEPARENT_LEN + 1];
  rc = rpct_traceparent_format(&ctx, out, sizeof out);
  if (rc != RPCT_TRACEPARENT_LEN) {
    fprintf(stderr, "consumer: rpct_traceparent_format returned %d\n", rc);
    return 1;
  }
  if (strcmp(in, out) != 0) {
    fprintf(stderr, "consumer: round trip mismatch\n  want %s\n  got  %s\n", in, out);
    return 1;
  }
  printf("consumer: %s\n", out);
  return 0;
}
