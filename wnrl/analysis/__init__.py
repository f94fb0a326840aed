"""Many runs read together: ``wnrl compare`` (:mod:`wnrl.analysis.compare`), the run readers
(:mod:`~wnrl.analysis.runs`), the paper-style tables (:mod:`~wnrl.analysis.tables`), figures
(:mod:`~wnrl.analysis.plots`), the field's statistics through rliable
(:mod:`~wnrl.analysis.statistics`: IQM, stratified-bootstrap CIs, probability of improvement)
and the published scores they are read against (:mod:`~wnrl.analysis.reference_scores`).
"""
