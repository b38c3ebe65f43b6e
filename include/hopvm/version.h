/* Build identity; the Makefile passes the real values with -D. */
#ifndef HOPVM_VERSION_H
#define HOPVM_VERSION_H
#define HOPVM_VERSION "0.1.0"
#ifndef HOPVM_GIT
#define HOPVM_GIT "unknown"
#endif
#ifndef HOPVM_BUILD_DATE
#define HOPVM_BUILD_DATE "unknown"
#endif
#endif
