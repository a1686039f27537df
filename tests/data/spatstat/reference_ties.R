# Reference values of Ripley's K from spatstat on patterns with ties, for tests/test_ripley.py.
# Run from the repository root: Rscript tests/data/spatstat/reference_ties.R
# Writes tests/data/spatstat/reference_ties.csv (pattern, fun, correction, spacing, r, value).
#
# The patterns sit on lattices (0.001 and 0.01 in a unit square, with circles
# through the corners; integers 0..20; 10 m in an L-shaped window), so many
# pair distances equal some r or a boundary distance exactly. spatstat then
# gives different answers by route: Kest with evenly spaced r runs its C
# routines (Kborder, Knone, Krect: a pair counts from r index ceil(d / dr),
# only d < rmax, border keeps b_i > r), otherwise histograms with cells
# closed on the left and the binned reduced sample (Kount). Both r spacings
# are written. Polygonal windows with the translate correction are left out
# (spatstat uses a pixel approximation there; see reference.R).
suppressMessages(library(spatstat.explore))
here <- "tests/data/spatstat"
windows <- list(
  lattice = owin(c(0, 1), c(0, 1)),
  grid = owin(c(0, 20), c(0, 20)),
  lgrid = owin(poly = list(x = c(0, 1000, 1000, 500, 500, 0), y = c(0, 0, 400, 400, 900, 900)))
)
rs <- list(
  lattice = list(even = seq(0, 0.3, by = 0.01),
                 uneven = c(0, 0.01, 0.02, 0.05, 0.1, 0.13, 0.2, 0.25, 0.3)),
  grid = list(even = 0:8, uneven = c(0, 1, 2, 2.5, 3, 4, 5, 6.5, 8)),
  lgrid = list(even = seq(0, 150, by = 10), uneven = c(0, 10, 30, 50, 60, 100, 130, 150))
)
rows <- list()
add <- function(pattern, fun, corr, spacing, r, v) {
  rows[[length(rows) + 1]] <<- data.frame(pattern = pattern, fun = fun, correction = corr,
                                          spacing = spacing, r = r, value = v)
}
for (name in names(windows)) {
  p <- read.csv(file.path(here, paste0("points_", name, ".csv")))
  W <- windows[[name]]
  X <- ppp(p$x, p$y, window = W, marks = factor(p$type), check = FALSE)
  U <- unmark(X)
  for (spacing in names(rs[[name]])) {
    r <- rs[[name]][[spacing]]
    for (corr in c("none", "border", "isotropic", "translate")) {
      if (corr == "translate" && W$type == "polygonal") next
      k <- suppressWarnings(Kest(U, r = r, correction = corr))
      add(name, "K", corr, spacing, r, k[[3]])
      kc <- suppressWarnings(Kcross(X, "A", "B", r = r, correction = corr))
      add(name, "Kcross", corr, spacing, r, kc[[3]])
    }
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "reference_ties.csv"), row.names = FALSE)
cat("spatstat", as.character(packageVersion("spatstat.explore")), "rows", nrow(out), "\n")
