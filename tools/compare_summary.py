#!/usr/bin/env python3
"""Summarises tools/compare-with-etcd.sh's raw.tsv as Markdown: medians per server, the
ratio etcdpp/etcd and the targets of issue 8.

    compare_summary.py RAW.tsv [machine.txt]

raw.tsv lines: scenario <TAB> server <TAB> run <TAB> metric <TAB> value
"""
import collections
import statistics
import sys

# scenario -> (target ratio of rps, description); None = no target (reported only)
RPS_TARGETS = collections.OrderedDict([
    ("put-1", (2.0, ">= 2.0x etcd, and >= 80 % of the fdatasync rate")),
    ("put-1000", (2.0, ">= 2.0x")),
    ("range-l-1000", (3.0, ">= 3.0x")),
    ("range-s-1000", (3.0, ">= 3.0x")),
    ("txn-put-1000", (4.0, ">= 4.0x")),
    ("lease-keepalive-1000", (None, "-")),
    ("watch-1000", (None, "- (events/s; latency = put sent -> event received)")),
    ("cluster3-put-1000", (2.0, ">= 2.0x")),
])


def load(path):
    data = collections.defaultdict(list)  # (scenario, server, metric) -> [values]
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5 or parts[4] == "":
            continue
        scen, srv, _run, metric, value = parts
        data[(scen, srv, metric)].append(value)
    return data


def num(values):
    out = []
    for v in values:
        try:
            out.append(float(v))
        except ValueError:
            pass
    return out


def median(data, scen, srv, metric):
    vals = num(data.get((scen, srv, metric), []))
    return statistics.median(vals) if vals else None


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{}f}".format(v, digits)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def mib(kb):
    return None if kb is None else kb / 1024.0


def main():
    data = load(sys.argv[1])
    out = []
    if len(sys.argv) > 2:
        out.append("```")
        out.extend(l.rstrip("\n") for l in open(sys.argv[2]))
        out.append("```")
        out.append("")
    runs = {}
    for (scen, srv, metric), vals in data.items():
        if metric == "rps":
            runs[(scen, srv)] = len(vals)

    fio = median(data, "fio", "disk", "fdatasync_per_s")
    fio_over = median(data, "fio-overwrite", "disk", "fdatasync_per_s")
    if fio is not None:
        out.append("Disk (fio, 2300-byte writes, fdatasync after each): **%s /s** appending to a "
                   "new file (etcd's recommended job; p99 sync %s ms), **%s /s** overwriting a "
                   "written file (p99 sync %s ms)." % (
                       fmt(fio), fmt(median(data, "fio", "disk", "fdatasync_p99_ms"), 3),
                       fmt(fio_over), fmt(median(data, "fio-overwrite", "disk",
                                                 "fdatasync_p99_ms"), 3)))
        out.append("")
    # The put-1 target compares with the best sync rate seen: fio's two jobs, and etcd's own
    # put-1 rate (etcd 3.4 makes one WAL fdatasync per put at one client, so its rate is a
    # lower bound of the disk's; fio on a shared disk can come out below it).
    etcd_put1 = median(data, "put-1", "etcd", "rps")
    fio_best = max(v for v in (fio, fio_over, etcd_put1, 0) if v is not None) or None
    if fio_best:
        out.append("Reference sync rate for the put-1 target: **%s /s** (the best of fio's two "
                   "jobs and etcd's 1-client put rate, one fdatasync per put)." % fmt(fio_best))
        out.append("")

    out.append("| scenario | runs | etcdpp req/s | etcd req/s | ratio | target | met | "
               "etcdpp p99 ms | etcd p99 ms | errors etcdpp/etcd | peak RSS MiB etcdpp / etcd |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for scen, (target, desc) in RPS_TARGETS.items():
        a = median(data, scen, "etcdpp", "rps")
        b = median(data, scen, "etcd", "rps")
        if a is None and b is None:
            continue
        r = ratio(a, b)
        met = "-"
        if target is not None and r is not None:
            met = "yes" if r >= target else "**no**"
            if scen == "put-1" and fio_best:
                share = a / fio_best if a else 0
                met += " (%.0f %% of the sync rate: %s)" % (100 * share,
                                                             "yes" if share >= 0.8 else "**no**")
        errs = "%s / %s" % (
            fmt(sum(num(data.get((scen, "etcdpp", "errors"), [])))),
            fmt(sum(num(data.get((scen, "etcd", "errors"), [])))))
        rss = "%s / %s" % (fmt(mib(median(data, scen, "etcdpp", "vmhwm_kb")), 1),
                           fmt(mib(median(data, scen, "etcd", "vmhwm_kb")), 1))
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            scen, "%s+%s" % (runs.get((scen, "etcdpp"), 0), runs.get((scen, "etcd"), 0)),
            fmt(a), fmt(b), fmt(r, 2) + "x" if r else "n/a", desc, met,
            fmt(median(data, scen, "etcdpp", "p99_ms"), 2),
            fmt(median(data, scen, "etcd", "p99_ms"), 2), errs, rss))
    out.append("")

    # Memory: peak RSS after the 1000-client put load, idle RSS right after start.
    mem = []
    a = median(data, "put-1000", "etcdpp", "vmhwm_kb")
    b = median(data, "put-1000", "etcd", "vmhwm_kb")
    if a or b:
        r = ratio(a, b)
        mem.append("| peak RSS (VmHWM) after put-1000 | %s | %s | %s | <= 0.4x | %s |" % (
            fmt(mib(a), 1), fmt(mib(b), 1), fmt(r, 2) + "x" if r else "n/a",
            ("yes" if r <= 0.4 else "**no**") if r else "-"))
    a = median(data, "put-1000", "etcdpp", "rssanon_kb")
    b = median(data, "put-1000", "etcd", "rssanon_kb")
    if a or b:
        r = ratio(a, b)
        mem.append("| RssAnon after put-1000 | %s | %s | %s | - | - |" % (
            fmt(mib(a), 1), fmt(mib(b), 1), fmt(r, 2) + "x" if r else "n/a"))
    for metric, label in (("idle_vmrss_kb", "idle RSS (VmRSS) after start"),
                          ("idle_rssanon_kb", "idle RssAnon after start")):
        idle = {}
        for srv in ("etcdpp", "etcd"):
            vals = []
            for (scen, s, m), v in data.items():
                if s == srv and m == metric and not scen.startswith("cluster"):
                    vals.extend(num(v))
            idle[srv] = statistics.median(vals) if vals else None
        if idle["etcdpp"] or idle["etcd"]:
            mem.append("| %s | %s | %s | %s | etcdpp <= 10 MiB | %s |" % (
                label, fmt(mib(idle["etcdpp"]), 1), fmt(mib(idle["etcd"]), 1),
                fmt(ratio(idle["etcdpp"], idle["etcd"]), 2) + "x" if idle["etcd"] else "n/a",
                ("yes" if idle["etcdpp"] <= 10 * 1024 else "**no**") if idle["etcdpp"] else "-"))
    if mem:
        out.append("| memory | etcdpp MiB | etcd MiB | ratio | target | met |")
        out.append("|---|---|---|---|---|---|")
        out.extend(mem)
        out.append("")

    key_scens = sorted({s for (s, _, _) in data if s.startswith("keys-")},
                       key=lambda s: int(s.split("-")[1]))
    if key_scens:
        out.append("| keys loaded (256-byte values) | metric | etcdpp | etcd | ratio | target |")
        out.append("|---|---|---|---|---|---|")
        for scen in key_scens:
            rows = [
                ("load rate (puts/s, 1000 clients)", "load_rps", 1, 0, "-"),
                ("peak RSS VmHWM MiB", "vmhwm_kb", 1 / 1024.0, 1, "-"),
                ("RssAnon MiB after load", "rssanon_kb", 1 / 1024.0, 1, "-"),
                ("db size on disk MiB (member/snap)", "db_bytes", 1 / 1048576.0, 1, "-"),
                ("WAL size MiB", "wal_bytes", 1 / 1048576.0, 1, "-"),
                ("data dir MiB", "datadir_bytes", 1 / 1048576.0, 1, "-"),
                ("restart to healthy ms (median)", "restart_ms", 1, 0,
                 "<= 0.1x (1M keys)"),
                ("RSS MiB after restart", "restarted_vmrss_kb", 1 / 1024.0, 1, "-"),
                ("load errors", "load_errors", 1, 0, "0"),
            ]
            for label, metric, scale, digits, target in rows:
                a = median(data, scen, "etcdpp", metric)
                b = median(data, scen, "etcd", metric)
                if a is None and b is None:
                    continue
                a = None if a is None else a * scale
                b = None if b is None else b * scale
                r = ratio(a, b)
                out.append("| %s | %s | %s | %s | %s | %s |" % (
                    scen.split("-")[1], label, fmt(a, digits), fmt(b, digits),
                    fmt(r, 2) + "x" if r is not None else "n/a", target))
        out.append("")

    perf = sorted({s for (s, _, _) in data if s.startswith("checkperf-")})
    if perf:
        out.append("| etcdctl check perf | etcdpp | etcd | target |")
        out.append("|---|---|---|---|")
        for scen in perf:
            def verdict(srv):
                v = data.get((scen, srv, "verdict"), ["n/a"])[0]
                t = data.get((scen, srv, "throughput"), ["?"])[0]
                sl = data.get((scen, srv, "slowest_s"), ["?"])[0]
                return "%s (%s writes/s, slowest %s s)" % (v, t, sl)
            load_name = scen.split("-")[1]
            out.append("| --load=%s | %s | %s | %s |" % (
                load_name, verdict("etcdpp"), verdict("etcd"), "PASS" if load_name == "l" else "-"))
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
