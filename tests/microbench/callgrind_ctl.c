/* Callgrind client requests for the per-request instruction benchmark
 * (tests/microbench/request_cost.py loads this with ctypes). Outside
 * valgrind every request is a no-op. */
#include <valgrind/callgrind.h>

void tracelab_cg_start(void) {
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_ZERO_STATS;
}

void tracelab_cg_dump(void) {
    CALLGRIND_DUMP_STATS_AT("measured");
    CALLGRIND_STOP_INSTRUMENTATION;
}
