"""Machine-learning models: the contract (``base``), the families (supervised, unsupervised, sequence), features,
the registry of trained models and the lab that trains and evaluates them.

OpenMP threads (scikit-learn's gradient boosting and neighbour searches, PyTorch) normally spin while they
wait for work. NetWarden shares its cores with parsing, the database writer and the web server, and on a
busy machine spinning threads made gradient boosting six times slower to train and predict; passive waiting
costs nothing when the cores are free. Set before scikit-learn or PyTorch load their OpenMP runtime; an
administrator's own ``OMP_WAIT_POLICY`` wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
