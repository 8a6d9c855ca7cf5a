"""Writes of the detection app, one module per concern:

- `detectors`: register, activate and deactivate detector versions (the model registry);
- `runs`: request, retry and execute detection runs (jobs of cases.kernel.jobs);
- `reviews`: a person's verdict, and the training-set export of the reviewed items.

Web processes import these modules but never torch: the pipeline and the model registry's
loader are imported inside detection_run_execute, which only the detection worker calls."""
