// SPDX-License-Identifier: MIT
/* wcpool.ko's debugfs counters: see stat.h. */
#include <stdio.h>
#include <string.h>

#include "stat.h"

int stat_get_many(const char *const *names, long *vals, int n)
{
	char key[64];
	int i, found = 0;
	long val;
	FILE *f = fopen(WCPOOL_STATS, "r");

	if (!f)
		return -1;
	for (i = 0; i < n; i++)
		vals[i] = -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		for (i = 0; i < n; i++)
			if (!strcmp(key, names[i]) && vals[i] == -1) {
				vals[i] = val;
				found++;
			}
	fclose(f);
	return found == n ? 0 : -1;
}

long stat_get(const char *name)
{
	long val;

	return stat_get_many(&name, &val, 1) ? -1 : val;
}
