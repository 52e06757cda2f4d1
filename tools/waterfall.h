/*
 * A trace as a text waterfall (`rpctrace view`):
 *
 *   trace <id>  <n> spans  services: <a, b>  <duration>[  ERROR]
 *     <svc> <name>    <KIND>    <duration>  |<bar>|[ ✗ <message>][ (parent not in file)]
 *
 * One line per span in tree order, the "service name" label indented two
 * columns per depth, padded to the trace's widest label (cut with "…" past
 * label_width columns), the kind (8 columns), the duration (9 columns,
 * right-aligned) and a bar of bar_width columns scaled to the trace: a
 * span covering [start, end) of the trace's [t0, t1) fills columns
 * floor((start - t0) * W / (t1 - t0)) up to ceil((end - t0) * W / (t1 - t0)),
 * at least one. Text from the file is written with what could drive the
 * terminal or disguise itself escaped visibly: C0 controls, DEL and bytes
 * that are not UTF-8 as "\x1b", C1 controls and Unicode bidi controls
 * (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069) as "\u202e".
 *
 * ASCII style: '#' for the bar, 'x' for the error mark, "..." for the cut,
 * "us" for microseconds, and every other non-ASCII character as '?'.
 */
#ifndef RPCTRACE_TOOLS_WATERFALL_H
#define RPCTRACE_TOOLS_WATERFALL_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"

typedef struct rtt_view_style {
  bool ascii;           /* ASCII only (not a UTF-8 locale, or --ascii) */
  bool color;           /* ANSI colours (a terminal, NO_COLOR unset) */
  unsigned bar_width;   /* 0: 40 */
  unsigned label_width; /* 0: 60 */
} rtt_view_style;

#define RTT_BAR_WIDTH 40
#define RTT_LABEL_WIDTH 60

/* Print trace `t` to `out` (header and one line per span). */
void rtt_waterfall_print(FILE *out, const rtt_trace *t, const rtt_view_style *style);

/* The columns [*from, *to) of span `s`'s bar in a bar `width` wide. A span
 * without a start time has an empty bar (0, 0); in a trace of zero
 * duration every other span fills the bar. */
void rtt_bar_columns(const rtt_trace *t, const rtt_span *s, unsigned width, unsigned *from,
                     unsigned *to);

/* `ns` as three significant digits in µs, ms or s ("850 µs", "12.3 ms",
 * "1.50 s"; "us" when `ascii`) into buf (NUL-terminated, cut to size). */
void rtt_format_duration(char *buf, size_t size, uint64_t ns, bool ascii);

#endif /* RPCTRACE_TOOLS_WATERFALL_H */
