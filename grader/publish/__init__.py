"""What people read after grading: feedback pages, the class overview with its similarity
flags, manual overrides and the late policy applied, and the exports other systems import."""
