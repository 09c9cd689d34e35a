/* backup.bpf.h - backup programs for events a tp_btf/raw_tp program misses
 * when the kernel skips a nested call (included after vmlinux.h and
 * bpf_helpers.h; the includer defines EV_KINDS, its number of event kinds
 * with a backup, and keeps a caught counter per kind). Used by tcpdrop
 * (drops, retransmits) and acceptq (kfree_skb). */
#ifndef QPS_BACKUP_BPF_H
#define QPS_BACKUP_BPF_H

/*
 * Events the program could not see. A tp_btf/raw_tp program does not run
 * again on a CPU where it is already running: the kernel skips the nested
 * call and only counts it (bpf_prog_info.recursion_misses). A retransmit or
 * a drop in task context (a socket's backlog processed by release_sock, a
 * queue purged by close, bottom halves enabled) can be interrupted by a
 * softirq that retransmits or drops on another socket: that second event
 * was lost, while the kernel's counters counted it (issue 11: 45 of 667
 * retransmitted segments). (Calls the kernel never makes at all, with no
 * miss counted, are another matter: the perf witness in probes/common.c.)
 *
 * So a second copy of each program (the "backup", attached after the
 * primary, hence called right after it for the same event) counts what the
 * primary skipped. Both run in the same frame of the tracepoint's caller,
 * so they see the same frame pointer; a nested event runs on another stack
 * or deeper on the same one, with another frame pointer. The primary marks
 * the event it counted under its frame pointer; the backup finds the mark
 * of its own event there unless the primary skipped it:
 *
 *   task:  primary(E1) marks [fp1]=E1 --irq--> softirq: primary(E2)
 *          skipped; backup(E2) finds no E2 under fp2: counts E2
 *          <-- backup(E1) finds E1 under fp1: clears it (E1 counted once)
 *
 * A primary nested in a running backup (an interrupt in its window) leaves
 * no mark: that event's backup is the one the kernel skips, so its mark
 * would outlive it, and a later skipped event under the same frame pointer
 * with the same arguments (a recycled skb, the same drop site) would pass
 * for counted.
 *
 * What the backup misses as well (nested twice) stays unseen: user space
 * reports the primary's recursion misses minus the backup's catches.
 */
#define EV_MARKS 4		/* per CPU and kind: one live mark per nesting level */
#ifndef EV_KINDS
#define EV_KINDS 1		/* kinds of events with a backup (the includer's enum) */
#endif

struct ev_mark {
	__u64 fp;		/* frame pointer of the primary's call; 0: free */
	__u64 a, b, c;		/* what identifies the event */
};

struct ev_marks {
	struct ev_mark m[EV_MARKS];
	__u32 backup_running;	/* the backup of this kind is running on this CPU */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EV_KINDS);
	__type(key, __u32);
	__type(value, struct ev_marks);
} ev_marks SEC(".maps");

/* a backup program's whole run is bracketed by these */
static __always_inline void ev_backup_running(__u32 kind, __u32 on)
{
	struct ev_marks *em = bpf_map_lookup_elem(&ev_marks, &kind);

	if (em)
		em->backup_running = on;
}

/* The primary marks event (a, b, c) under @fp; the backup clears the mark
 * of its frame and returns true when it was this event's (the primary
 * counted it: the backup must not). A backup that finds no such mark
 * counts the event, as one the primary skipped, in *caught. */
static __always_inline bool ev_counted(__u32 kind, __u64 fp, __u64 a, __u64 b, __u64 c, bool backup,
				       __u64 *caught)
{
	struct ev_mark *marks, *m = NULL;
	struct ev_marks *em;
	int i;

	em = bpf_map_lookup_elem(&ev_marks, &kind);
	if (!em)
		return false;
	marks = em->m;
	for (i = 0; i < EV_MARKS; i++)
		if (marks[i].fp == fp) {
			m = &marks[i];
			break;
		}
	if (backup) {
		if (m) {
			bool same = m->a == a && m->b == b && m->c == c;

			m->fp = 0;
			if (same)
				return true;
		}
		__sync_fetch_and_add(caught, 1);
		return false;
	}
	if (em->backup_running)	/* our backup will be skipped: no mark */
		return false;
	for (i = 0; !m && i < EV_MARKS; i++)
		if (!marks[i].fp)
			m = &marks[i];
	if (!m)		/* only stale marks left: reuse one */
		m = &marks[bpf_get_prandom_u32() & (EV_MARKS - 1)];
	m->fp = fp;
	m->a = a;
	m->b = b;
	m->c = c;
	return false;
}

/* The frame pointer of the running program: the same for the primary and
 * the backup called for one event (see above). */
#define EV_FP() ({ __u64 __fp; asm volatile("%0 = r10" : "=r"(__fp)); __fp; })
#endif
