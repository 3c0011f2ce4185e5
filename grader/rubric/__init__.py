"""The rubric: its schema and loading with file:line errors (``schema``), its reference page
(``docs``), the execution and late policies it carries, and the public view students see."""
