# Reference local statistics from spdep for tests/test_hotspots.py.
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
cat("spdep", as.character(packageVersion("spdep")), nrow(out), "cells\n")
