# Bar chart of ns per operation, trio-cpp vs Asio, log scale. Usage:
#   gnuplot -e "csv='bench.csv'; out='bench.png'" plot.gp
set terminal pngcairo size 1100,560 font "sans,10" noenhanced
set output out
set datafile separator ","
set title "trio-cpp vs Asio 1.22: time per operation (median, 2-core VM; lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set logscale y
set ylabel "ns per operation (log scale)"
set xtics rotate by -30 scale 0
set key top left
set grid ytics
plot csv every ::1 using 2:xtic(1) title "trio-cpp" linecolor rgb "#2a7ab9", \
     '' every ::1 using 3 title "Asio" linecolor rgb "#c0504d"
