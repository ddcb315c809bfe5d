// SPDX-License-Identifier: MIT
#include <stdio.h>

#include <jemalloc/jemalloc.h>

#include "check.h"
#include "sizeclass.h"

struct wcpi_sizeclasses wcpi_classes;

/* jemalloc's @leaf (arenas.bin or arenas.lextent) @i size; 0 if unknown. */
static size_t class_size(const char *leaf, unsigned i)
{
	char name[64];
	size_t size, len = sizeof(size);

	snprintf(name, sizeof(name), "arenas.%s.%u.size", leaf, i);
	return mallctl(name, &size, &len, NULL, 0) ? 0 : size;
}

/* Blocks a slab of small class @i holds; 0 if unknown. */
static uint32_t class_nregs(unsigned i)
{
	char name[64];
	uint32_t nregs;
	size_t len = sizeof(nregs);

	snprintf(name, sizeof(name), "arenas.bin.%u.nregs", i);
	return mallctl(name, &nregs, &len, NULL, 0) ? 0 : nregs;
}

/*
 * Without the classes (an unexpected jemalloc), nr stays 0 and every
 * allocation takes the jemalloc path: slower, still correct.
 */
void wcpi_sizeclass_init(void)
{
	struct wcpi_sizeclasses *c = &wcpi_classes;
	unsigned nbins, nlextents, n, k = 0;
	size_t len = sizeof(nbins);

	if (mallctl("arenas.nbins", &nbins, &len, NULL, 0) || !nbins ||
	    nbins > WCPI_MAX_CLASSES)
		return;
	len = sizeof(nlextents);
	if (mallctl("arenas.nlextents", &nlextents, &len, NULL, 0))
		nlextents = 0;
	for (n = 0; n < nbins; n++) {
		size_t size = class_size("bin", n);

		if (!size || size > WCPI_SMALL_LIMIT ||
		    (n && size <= c->size[n - 1]))
			return;
		c->size[n] = (uint32_t)size;
		c->nregs[n] = class_nregs(n);
	}
	/* The large classes up to the limit, if jemalloc tells them. */
	for (unsigned i = 0; i < nlextents && n < WCPI_MAX_CLASSES; i++, n++) {
		size_t size = class_size("lextent", i);

		if (!size || size > WCPI_CACHE_LIMIT || size <= c->size[n - 1])
			break;
		c->size[n] = (uint32_t)size;
	}
	/* The 8-byte class is never used: blocks are at least 16 bytes. */
	for (size_t s = 0; s <= c->size[n - 1]; s += 16) {
		while (c->size[k] < s || c->size[k] % 16)
			k++;
		c->of[s >> 4] = (uint8_t)k;
	}
	c->slab_max = c->size[nbins - 1];
	c->nr_slab = nbins;
	c->max = c->size[n - 1];
	c->nr = n;
	WCPI_ASSERT(c->size[c->of[1]] == 16);
}
