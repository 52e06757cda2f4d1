/*
 * Internal declarations private to the exporter module (src/export/). Not
 * installed. What the rest of src/ needs from the module is in internal.h.
 */
#ifndef RPCTRACE_SRC_EXPORT_EXPORTER_INTERNAL_H
#define RPCTRACE_SRC_EXPORT_EXPORTER_INTERNAL_H

#include "rpctrace/export.h"

/* The ops table and impl an exporter was made with (`e` non-NULL). A
 * built-in exporter recognises itself by comparing the ops pointer with its
 * own static table. */
const rpct_exporter_ops *rpct__exporter_ops(const rpct_exporter *e);
void *rpct__exporter_impl(const rpct_exporter *e);

#endif /* RPCTRACE_SRC_EXPORT_EXPORTER_INTERNAL_H */
