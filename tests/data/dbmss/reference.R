# Reference values of Duranton-Overman's Kd as the R package dbmss computes it,
# for tests/test_kdensity.py. Run from the repository root:
#   Rscript tests/data/dbmss/reference.R
# Writes tests/data/dbmss/reference_kd.csv and tests/data/dbmss/reference_bw.csv.
#
# dbmss is not packaged for Debian (and CRAN was out of reach when these were
# made), so this script follows the steps of dbmss's Kdhat() with
# Approximate >= 1 (its default from 10,000 points; dbmss 2.7-2.9, R/Kdhat.R and
# src/CountNbd.cpp, read from its sources) in plain R, calling the same R
# functions dbmss calls (seq, bw.nrd0, bw.SJ, density, approx):
#   1. pair weights w_i w_j of every pair with a reference end and a neighbour
#      end (a pair of one type twice) by the first bin of
#      rseq = seq(0, 2 rmax, length.out = 2048 Approximate) with d^2 <= rseq^2,
#      and one more bin for farther pairs;
#   2. bin centres c(0, midpoints); the bandwidth is bw.nrd0 (Original = TRUE) or
#      bw.SJ of the centres of the non-empty bins, times Adjust;
#   3. the far bin at 2 rmax + 4 bw; bins at most 4 bw (but the first) mirrored;
#   4. density(weights, from = 0, to = rmax, n = 512) divided by
#      1 - mean(mirrored density) * its range; approx at r.
# The bandwidths of the listed distances up to 2 rmax (dbmss's exact mode) are
# R's own bw.nrd0 and bw.SJ.
here <- "tests/data/dbmss"
sites <- read.csv(file.path(here, "sites.csv"))

pair_bins <- function(rseq, x, y, w, is_ref, is_nbr) {
  nr <- length(rseq)
  r2 <- rseq * rseq
  out <- numeric(nr + 1)
  n <- length(x)
  for (i in 1:(n - 1)) {
    j <- (i + 1):n
    dx <- x[i] - x[j]
    dy <- y[i] - y[j]
    d2 <- dx * dx + dy * dy
    bin <- ifelse(d2 <= r2[nr], findInterval(d2, r2, left.open = TRUE) + 1, nr + 1)
    weight <- w[i] * w[j] * ((is_ref[i] & is_nbr[j]) + (is_ref[j] & is_nbr[i]))
    sums <- tapply(weight, factor(bin, levels = 1:(nr + 1)), sum)
    out <- out + ifelse(is.na(sums), 0, sums)
  }
  out
}

kd_binned <- function(r, ref, nbr, weighted, original, adjust, approximate) {
  keep <- sites$type == ref | sites$type == nbr
  s <- sites[keep, ]
  w <- if (weighted) s$weight else rep(1, nrow(s))
  rmax <- max(r)
  rseq <- seq(from = 0, to = rmax * 2, length.out = 2048 * approximate)
  nr <- length(rseq)
  nbd <- pair_bins(rseq, s$x, s$y, w, s$type == ref, s$type == nbr)
  centres <- c(0, (rseq[2:nr] + rseq[1:(nr - 1)]) / 2)
  occupied <- centres[nbd[-length(nbd)] > 0]
  bw <- (if (original) bw.nrd0(occupied) else bw.SJ(occupied)) * adjust
  centres <- c(centres, rmax * 2 + 4 * bw)
  mirrored <- which(centres <= 4 * bw)[-1]
  values <- c(centres, -centres[mirrored])
  weights <- c(nbd, nbd[mirrored])
  weights <- weights / sum(weights)
  dens <- density(values, weights = weights, from = 0, to = rmax, bw = bw, n = 512)
  below <- density(values, weights = weights, to = 0, bw = bw)
  dens$y <- dens$y / (1 - mean(below$y) * diff(range(below$x)))
  list(kd = approx(dens$x, dens$y, xout = r)$y, bw = bw)
}

r <- seq(0, 3000, length.out = 61)
cases <- list(
  list(case = "univariate", ref = "A", nbr = "A", weighted = FALSE, original = TRUE, adjust = 1,
       approximate = 1),
  list(case = "bilateral", ref = "A", nbr = "B", weighted = FALSE, original = TRUE, adjust = 1,
       approximate = 1),
  list(case = "weighted", ref = "A", nbr = "B", weighted = TRUE, original = TRUE, adjust = 1,
       approximate = 1),
  list(case = "sj", ref = "A", nbr = "B", weighted = FALSE, original = FALSE, adjust = 1,
       approximate = 1),
  list(case = "adjust_approx2", ref = "B", nbr = "B", weighted = FALSE, original = TRUE,
       adjust = 0.5, approximate = 2)
)
rows <- list()
for (cs in cases) {
  k <- kd_binned(r, cs$ref, cs$nbr, cs$weighted, cs$original, cs$adjust, cs$approximate)
  rows[[length(rows) + 1]] <- data.frame(case = cs$case, r = r, kd = k$kd, bw = k$bw)
}
write.csv(do.call(rbind, rows), file.path(here, "reference_kd.csv"), row.names = FALSE)

# bandwidths of the listed distances up to 2 rmax (as dbmss's exact mode lists them)
distances <- function(ref, nbr) {
  s <- sites[sites$type == ref | sites$type == nbr, ]
  d <- as.matrix(dist(cbind(s$x, s$y)))
  pick <- outer(s$type == ref, s$type == nbr) | outer(s$type == nbr, s$type == ref)
  d[pick & upper.tri(d)]
}
bws <- list()
for (pair in list(c("A", "A"), c("A", "B"), c("B", "B"))) {
  for (rmax in c(1000, 3000)) {
    d <- distances(pair[1], pair[2])
    d <- d[d <= 2 * rmax]
    bws[[length(bws) + 1]] <- data.frame(ref = pair[1], nbr = pair[2], rmax = rmax,
                                         n = length(d), nrd0 = bw.nrd0(d), sj = bw.SJ(d))
  }
}
write.csv(do.call(rbind, bws), file.path(here, "reference_bw.csv"), row.names = FALSE)
cat("R", as.character(getRversion()), "cases", length(cases), "bandwidths", length(bws), "\n")
