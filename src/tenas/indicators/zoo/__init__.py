"""The zero-cost proxies, one small module each, all registered in :mod:`tenas.indicators.registry`.

=========== ======================================================== =============== =================
name        what it measures                                          raw: better is  paper
=========== ======================================================== =============== =================
ntk         TE-NAS kappa_N, NTK condition number                      lower           Chen et al. 2021
regions     TE-NAS R_N, number of linear regions (ReLU patterns)      higher          Chen et al. 2021
naswot      log|K_H|, Hamming kernel of ReLU codes                    higher          Mellor et al. 2021
synflow     synaptic flow of the linearised |w| network               higher          Tanaka et al. 2020
snip        sum |w * dL/dw|                                           higher          Lee et al. 2019
grasp       sum -w * (H g)                                            higher          Wang et al. 2020
fisher      sum over channels of 0.5 E[(sum a * dL/da)^2]             higher          Theis et al. 2018
grad_norm   sum of per-layer ||dL/dw||                                higher          Abdelfattah 2021
jacob_cov   -sum(log(v+k) + 1/(v+k)), v eig. of input-Jacobian corr.  higher          Mellor et al. 2020
zico        sum log(sum E|g| / std(g)) over layers                    higher          Li et al. 2023
zen         log E||f(x) - f(x + 0.01 e)||_1 + sum log sigma_BN        higher          Lin et al. 2021
params      number of parameters                                      higher          (baseline)
flops       multiply-adds per image (millions)                        higher          (baseline)
=========== ======================================================== =============== =================

Use them through the registry (``get_proxy(name)(model, inputs, targets, seed=...)``); the gradient
proxies follow the definitions of Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021.
"""
