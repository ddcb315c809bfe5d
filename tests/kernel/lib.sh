# SPDX-License-Identifier: GPL-2.0
#
# lib.sh - what the QEMU suite scripts share (sourced by run-*, lint,
# lib-suite, check-all; never run): the kernel cache and the list "all"
# stands for, and the tally every script keeps of "N passed, N failed".

CACHE=${WCPOOL_KERNEL_CACHE:-/var/cache/wcpool-kernels}
# The Debian kernels every suite runs on ("--kernel all").
ALL_KERNELS="6.1 6.12"
passed=0
failed=0

# kernel_list NAME SERIES [EXTRA...]: set LIST to the kernels SERIES names
# (one of ALL_KERNELS, an EXTRA such as 6.1-debug, or all); any other
# value is a usage error of script NAME (exit 2).
kernel_list() {
	local name=$1 series=$2 k
	shift 2
	if [ "$series" = all ]; then
		LIST=$ALL_KERNELS
		return
	fi
	for k in $ALL_KERNELS "$@"; do
		if [ "$series" = "$k" ]; then
			LIST=$series
			return
		fi
	done
	echo "$name: --kernel must be one of: $ALL_KERNELS $* all" >&2
	exit 2
}

# count_last FILE / count_all FILE: set p and f from the last "N passed,
# N failed" line of FILE / from all of them summed.  count_last returns 1
# (p and f 0) when FILE has no such line.
count_last() {
	local line
	line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
	p=0
	f=0
	[ -n "$line" ] || return 1
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed}
}
count_all() {
	p=$(awk '/^[0-9]+ passed, [0-9]+ failed$/ { s += $1 } END { print s + 0 }' "$1")
	f=$(awk '/^[0-9]+ passed, [0-9]+ failed$/ { s += $3 } END { print s + 0 }' "$1")
}

# tally P F RC WHAT: add one run's counts to the totals.  A run that
# exited non-zero without a failure counted (the guest died, or the kernel
# log showed a problem after the count) is one failure.
tally() {
	local p=$1 f=$2
	if [ "$3" != 0 ] && [ "$f" = 0 ]; then
		echo "${0##*/}: $4 exited with status $3" >&2
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

# finish: the closing line every suite ends with; exits 0 only when
# nothing failed.
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}
