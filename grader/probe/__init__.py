"""What the grader asks of a student's kernel and reads back: locators and the model's
interface (``interface``), the requests (``requests``), the kernel-side code (``kernel``), and
the artifacts' safe I/O (``artifacts``)."""
