"""Vis2Mus: image transformations drive music transformations through PolyDis's texture feature
map (spec_vis2mus.md). representation: the music grids; the model, data and transforms follow."""
