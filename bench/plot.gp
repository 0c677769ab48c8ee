# Plots sqlpool-bench-peers' CSV: throughput against threads, one line per contender, one PNG per
# workload. Usage (from the repository root):
#   gnuplot -e "csv='build/bench/peers.csv'; outdir='docs'" bench/plot.gp
# writes outdir/benchmarks-acquire.png, -select.png and -insert.png, and benchmarks-postgres.png
# (select and insert side by side) when the CSV has the PostgreSQL section (--postgres).
if (!exists("csv")) csv = 'build/bench/peers.csv'
if (!exists("outdir")) outdir = 'docs'
if (!exists("widen")) widen = 'bench/widen.awk'

set terminal pngcairo size 1000,640 enhanced font "DejaVu Sans,11"
set datafile missing "NaN"
set key outside right top noenhanced box
set logscale x 2
set logscale y 10
set xrange [0.8:40]
set xtics ("1" 1, "8" 8, "32" 32)
set format y "%.0s%c"
set xlabel "threads (4 pooled connections; the limit: one connection per thread)"
set ylabel "operations per second (log scale)"
set grid xtics ytics mytics
set mytics 10

# One colour and point per contender, whichever workloads it appears in; the limit is dashed.
color(k) = k eq "limit" ? "#000000" : k eq "sqlpool-default" ? "#d62728" : k eq "sqlpool-fastest" ? "#ff7f0e" : \
           k eq "sqlpool-split" ? "#8c564b" : k eq "mutex-pool-cached" ? "#1f77b4" : \
           k eq "mutex-pool-prepare" ? "#17becf" : k eq "soci" ? "#2ca02c" : k eq "poco" ? "#9467bd" : "#7f7f7f"
point(k) = k eq "limit" ? 1 : k eq "sqlpool-default" ? 7 : k eq "sqlpool-fastest" ? 5 : k eq "sqlpool-split" ? 9 : \
           k eq "mutex-pool-cached" ? 6 : k eq "mutex-pool-prepare" ? 4 : k eq "soci" ? 8 : k eq "poco" ? 10 : 12
dash(k) = k eq "limit" ? 2 : 1

titles = "acquire select insert"

do for [w in titles] {
    data = sprintf("< awk -F, -v w=%s -v conns=4 -f '%s' '%s'", w, widen, csv)
    header = system(sprintf("awk -F, -v w=%s -v conns=4 -f '%s' '%s' | head -n1", w, widen, csv))
    columns = words(header)
    if (columns >= 2) {
        set output sprintf("%s/benchmarks-%s.png", outdir, w)
        if (w eq "acquire") { set title "acquire + release only (no SQL)" }
        if (w eq "select") { set title "point SELECT by primary key, WAL file database, 10,000 rows" }
        if (w eq "insert") { set title "single-row BEGIN IMMEDIATE insert, WAL, synchronous=NORMAL" }
        plot for [i=2:columns] data using 1:i with linespoints linewidth 2 pointsize 1.2 \
            linecolor rgb color(word(header, i)) pointtype point(word(header, i)) dashtype dash(word(header, i)) \
            title word(header, i)
        set output
        print sprintf("wrote %s/benchmarks-%s.png", outdir, w)
    }
}

# The PostgreSQL section: both workloads in one PNG.
pg_header = system(sprintf("awk -F, -v w=pg_select -v conns=4 -f '%s' '%s' | head -n1", widen, csv))
if (words(pg_header) >= 2) {
    set terminal pngcairo size 1400,620 enhanced font "DejaVu Sans,11"
    set output sprintf("%s/benchmarks-postgres.png", outdir)
    set key below horizontal noenhanced box
    unset xlabel
    set multiplot layout 1,2 \
        title "PostgreSQL over loopback TCP, same machine: threads 1, 8, 32; 4 pooled connections, the limit one PGconn per thread"
    do for [w in "pg_select pg_insert"] {
        data = sprintf("< awk -F, -v w=%s -v conns=4 -f '%s' '%s'", w, widen, csv)
        header = system(sprintf("awk -F, -v w=%s -v conns=4 -f '%s' '%s' | head -n1", w, widen, csv))
        columns = words(header)
        if (w eq "pg_select") { set title "point SELECT by primary key, 10,000 rows" }
        if (w eq "pg_insert") { set title "single-row insert, own transaction (fsync on)" }
        if (columns >= 2) {
            plot for [i=2:columns] data using 1:i with linespoints linewidth 2 pointsize 1.2 \
                linecolor rgb color(word(header, i)) pointtype point(word(header, i)) \
                dashtype dash(word(header, i)) title word(header, i)
        }
    }
    unset multiplot
    set output
    print sprintf("wrote %s/benchmarks-postgres.png", outdir)
}
