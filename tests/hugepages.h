/* SPDX-License-Identifier: MIT */
/* Shared by the test helpers and the bench (which cannot link Criterion). */
#ifndef WCPOOL_TESTS_HUGEPAGES_H
#define WCPOOL_TESTS_HUGEPAGES_H

/* Free 2 MiB huge pages in the system's pool now (0 if unreadable). */
long free_hugepages(void);

#endif
