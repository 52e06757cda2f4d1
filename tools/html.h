/*
 * Traces as one self-contained HTML page (`rpctrace html`): inline CSS and
 * a few lines of inline JavaScript, nothing fetched from anywhere (no
 * external fonts, scripts, styles or images), so the page works offline
 * and can be mailed or attached to a ticket.
 *
 * Structure (stable hooks for tests and scripts):
 *   <details class="trace" data-trace-id="ID" open>      one per trace
 *     <summary>trace id, span count, services, duration, ERROR</summary>
 *     <details class="span[ error][ orphan]" data-span-id="ID"
 *              data-trace-id="ID" data-depth="N">          one per span, tree order
 *       <summary>label (indented), kind, duration, bar</summary>
 *       ...details: ids, kind, times, status, scope, attributes, events,
 *          links, resource...
 * The bar is positioned with CSS percentages of the trace's duration.
 * Every string from the input is HTML-escaped (& < > " '), and control
 * characters become U+FFFD: no input can inject markup.
 */
#ifndef RPCTRACE_TOOLS_HTML_H
#define RPCTRACE_TOOLS_HTML_H

#include <stdio.h>

#include "model.h"

/* Write the page for every trace of finished model `m` to `out`. `source`
 * (the input's name) is shown in the title. */
void rtt_html_write(FILE *out, const rtt_model *m, const char *source);

/* `s` HTML-escaped to `out` (text or a double-quoted attribute value). */
void rtt_html_escape(FILE *out, const char *s);

#endif /* RPCTRACE_TOOLS_HTML_H */
