# Reference local and global statistics from spdep for tests/test_hotspots.py.
# Run from the repository root: Rscript tests/data/spdep/reference.R
# A 12 x 12 grid of unit cells (centres cx, cy); queen neighbours are the cells
# whose centres are within 1.5 (sides and corners).
suppressMessages(library(spdep))
g <- read.csv("tests/data/spdep/grid.csv")
coords <- cbind(g$cx, g$cy)
nb <- dnearneigh(coords, 0, 1.5)
gstar <- localG(g$services, nb2listw(include.self(nb), style = "B"))
lm <- localmoran(g$services, nb2listw(nb, style = "W"))
out <- data.frame(gi_z = as.numeric(gstar), lisa_i = lm[, "Ii"], lisa_e = lm[, "E.Ii"],
                  lisa_var = lm[, "Var.Ii"], lisa_z = lm[, "Z.Ii"])
write.csv(out, "tests/data/spdep/reference.csv", row.names = FALSE)
# global Moran's I: moments under normality and randomisation, permutation test;
# "scrambled" is services reordered (cell k takes cell (59 k mod 144)'s value): weakly
# autocorrelated, so the permutation p-value is informative
lw <- nb2listw(nb, style = "W")
g$scrambled <- g$services[order((0:(nrow(g) - 1) * 59) %% nrow(g))]
glob <- list()
for (v in c("services", "manufacturing", "scrambled")) {
  for (rand in c(TRUE, FALSE)) {
    mt <- moran.test(g[[v]], lw, randomisation = rand, alternative = "two.sided")
    glob[[length(glob) + 1]] <- data.frame(
      variable = v, randomisation = rand, I = mt$estimate[["Moran I statistic"]],
      expected = mt$estimate[["Expectation"]], variance = mt$estimate[["Variance"]],
      z = mt$statistic[[1]], p = mt$p.value)
  }
}
glob <- do.call(rbind, glob)
set.seed(20261203)
# one draw of 9999 permutations each (Monte Carlo values)
glob$mc_p_greater <- sapply(glob$variable, function(v)
  moran.mc(g[[v]], lw, nsim = 9999, alternative = "greater")$p.value)
write.csv(glob, "tests/data/spdep/reference_global.csv", row.names = FALSE)
cat("spdep", as.character(packageVersion("spdep")), nrow(out), "cells\n")
