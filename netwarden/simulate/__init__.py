"""A traffic simulator for demos and tests: a small office network at work, attacked now and then.

Benign traffic: workstations browsing and resolving names, mail, the internal web server's visitors, admins
logging in over SSH, NetFlow records of it all. Attacks, one at a time at intervals: port scans, SSH brute
force, SQL injection, directory traversal, exfiltration, traffic with addresses of the intel feed, SYN
floods. Everything is deterministic for a seed.

What it produces is what real devices send: syslog lines (sshd, netfilter, nginx access lines over syslog)
and NetFlow (IPFIX) records, so they go through NetWarden's real parsers and decoders, in process
(:func:`~netwarden.simulate.outputs.to_events`) or over the network
(:class:`~netwarden.simulate.outputs.NetworkSender`, ``netwarden simulate``).

>>> sim = Simulator(seed=7)
>>> emissions = list(sim.generate(start, seconds=600))  # doctest: +SKIP
"""

from netwarden.simulate.traffic import ATTACKS, Emission, Flow, Simulator

__all__ = ["ATTACKS", "Emission", "Flow", "Simulator"]
