#include "qrank.h"

const char *qrank_version(void) { return "0.1.0"; }
