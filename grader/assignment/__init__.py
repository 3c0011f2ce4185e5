"""An assignment as a whole, around its release: the student bundle, validation in CI,
threshold calibration, and the Gradescope autograder package."""
