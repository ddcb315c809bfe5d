// SPDX-License-Identifier: MIT
#include <stdio.h>

#include <jemalloc/jemalloc.h>

#include "check.h"
#include "sizeclass.h"

struct wcpi_sizeclasses wcpi_classes;

/*
 * Without the classes (an unexpected jemalloc), nr stays 0 and every
 * allocation takes the jemalloc path: slower, still correct.
 */
void wcpi_sizeclass_init(void)
{
	struct wcpi_sizeclasses *c = &wcpi_classes;
	unsigned nbins, k = 0;
	size_t len = sizeof(nbins);

	if (mallctl("arenas.nbins", &nbins, &len, NULL, 0) ||
	    nbins > WCPI_MAX_CLASSES)
		return;
	for (unsigned i = 0; i < nbins; i++) {
		char name[64];
		size_t size;

		len = sizeof(size);
		snprintf(name, sizeof(name), "arenas.bin.%u.size", i);
		if (mallctl(name, &size, &len, NULL, 0) ||
		    size > WCPI_SMALL_LIMIT || (i && size <= c->size[i - 1]))
			return;
		c->size[i] = (uint32_t)size;
	}
	/* The 8-byte class is never used: blocks are at least 16 bytes. */
	for (size_t s = 0; s <= c->size[nbins - 1]; s += 16) {
		while (c->size[k] < s || c->size[k] % 16)
			k++;
		c->of[s >> 4] = (uint8_t)k;
	}
	c->max = c->size[nbins - 1];
	c->nr = nbins;
	WCPI_ASSERT(c->size[c->of[1]] == 16);
}
