# Turns the rows of one workload in sqlpool-bench-peers' CSV into a table gnuplot can plot:
# a header line, then one line per thread count: threads, then ops/s of each contender (NaN where
# a contender has no figure). Usage: awk -F, -v w=select -v conns=4 -f bench/widen.awk peers.csv
NR == 1 { next }
$1 == w && $4 == conns && $5 == "ok" {
    if (!($2 in seen)) { seen[$2] = 1; keys[++nkeys] = $2 }
    t = $3 + 0
    if (!(t in tseen)) { tseen[t] = 1; threads[++nthreads] = t }
    value[$2, t] = $6
}
END {
    for (i = 2; i <= nthreads; i++)           # insertion sort of the thread counts
        for (j = i; j > 1 && threads[j - 1] > threads[j]; j--) {
            tmp = threads[j]; threads[j] = threads[j - 1]; threads[j - 1] = tmp
        }
    line = "threads"
    for (k = 1; k <= nkeys; k++) line = line " " keys[k]
    print line
    for (i = 1; i <= nthreads; i++) {
        line = threads[i]
        for (k = 1; k <= nkeys; k++) line = line " " (((keys[k], threads[i]) in value) ? value[keys[k], threads[i]] : "NaN")
        print line
    }
}
