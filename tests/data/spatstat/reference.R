# Reference values of Ripley's K from spatstat for tests/test_ripley.py.
# Run from the repository root: Rscript tests/data/spatstat/reference.R
# Writes tests/data/spatstat/reference_k.csv (pattern, fun, correction, r, value).
# Polygonal windows with the translate correction: spatstat's Kest/Kcross use a
# pixel approximation of the set covariance there; the reference is the exact
# computation (edge.Trans(exact = TRUE)) with the same normalisation.
suppressMessages(library(spatstat))
here <- "tests/data/spatstat"
windows <- list(
  rect = owin(c(0, 1000), c(0, 600)),
  lshape = owin(poly = list(x = c(0, 1000, 1000, 500, 500, 0), y = c(0, 0, 400, 400, 900, 900))),
  holed = owin(poly = list(list(x = c(0, 800, 800, 0), y = c(0, 0, 800, 800)),
                           list(x = c(300, 300, 500, 500), y = c(300, 500, 500, 300))))
)
rs <- list(rect = seq(0, 150, length.out = 16), lshape = seq(0, 200, length.out = 21),
           holed = seq(0, 120, length.out = 13))
rows <- list()
add <- function(pattern, fun, corr, r, v) {
  rows[[length(rows) + 1]] <<- data.frame(pattern = pattern, fun = fun, correction = corr,
                                          r = r, value = v)
}
for (name in names(windows)) {
  p <- read.csv(file.path(here, paste0("points_", name, ".csv")))
  W <- windows[[name]]
  X <- ppp(p$x, p$y, window = W, marks = factor(p$type))
  r <- rs[[name]]
  U <- unmark(X)
  A <- X[marks(X) == "A"]
  B <- X[marks(X) == "B"]
  for (corr in c("none", "border", "isotropic", "translate")) {
    exact_trans <- corr == "translate" && W$type == "polygonal"
    if (!exact_trans) {
      add(name, "K", corr, r, Kest(U, r = r, correction = corr)[[3]])
      add(name, "Kcross", corr, r, Kcross(X, "A", "B", r = r, correction = corr)[[3]])
    } else {
      breaks <- c(-(r[2] - r[1]), r)
      n <- npoints(U)
      cl <- closepairs(U, max(r), what = "all")
      w <- edge.Trans(dx = cl$dx, dy = cl$dy, W = W, exact = TRUE, paired = TRUE)
      add(name, "K", corr, r, cumsum(whist(cl$d, breaks, w)) / (n * (n - 1) / area(W)))
      cp <- crosspairs(A, B, max(r), what = "all")
      w <- edge.Trans(dx = cp$dx, dy = cp$dy, W = W, exact = TRUE, paired = TRUE)
      add(name, "Kcross", corr, r,
          cumsum(whist(cp$d, breaks, w)) / (npoints(A) * npoints(B) / area(W)))
    }
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "reference_k.csv"), row.names = FALSE)
cat("spatstat", as.character(packageVersion("spatstat.explore")), "rows", nrow(out), "\n")
