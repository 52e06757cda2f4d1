/*
 * rpctrace — distributed tracing for gRPC core. Umbrella header.
 *
 * Each included header states the thread safety and ownership of what it
 * declares.
 */
#ifndef RPCTRACE_RPCTRACE_H
#define RPCTRACE_RPCTRACE_H

#include "rpctrace/common.h"
#include "rpctrace/context.h"
#include "rpctrace/propagation.h"
#include "rpctrace/export.h"
#include "rpctrace/filter.h"
#include "rpctrace/resource.h"
#include "rpctrace/sampler.h"
#include "rpctrace/span.h"
#include "rpctrace/tracer.h"

#endif /* RPCTRACE_RPCTRACE_H */
