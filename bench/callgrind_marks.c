/* Callgrind client requests for bench/instructions.py (loaded with ctypes): count only the
 * measured section of a Python process, not its start-up or data setup. */
#include <valgrind/callgrind.h>

void marks_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void marks_stop(const char *name) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(name); }
