"""Can ``torch.func`` stack seeds of any HF causal LM (``stack_module_state`` + ``functional_call`` under ``vmap``)?

The question of the generic stacked path (:mod:`rewardlab.rl.causal_lm`): PPO's forward needs a padding mask
(prompts are left-padded). Run: ``.venv/bin/python benchmarks/probe_torch_func_stack.py``. With transformers
5.25 and torch 2.13 it printed, for a tiny Llama and a tiny GPT-2:

    llama vmap forward with padding mask fails: RuntimeError vmap: ... data-dependent control flow ...
    gpt2 vmap forward with padding mask fails: RuntimeError vmap: ... data-dependent control flow ...

(without a mask Llama's forward vmaps, GPT-2's draws random numbers inside and fails), so the stacked path
stays GPT-2's hand-written one and every other architecture runs seed by seed.
"""

import rewardlab, torch, copy
from torch.func import stack_module_state, functional_call
from transformers import LlamaConfig, LlamaForCausalLM, GPT2Config, GPT2LMHeadModel
torch.set_num_threads(1)
for name, m in [("llama", LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2))),
                ("gpt2", GPT2LMHeadModel(GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4)))]:
    models=[copy.deepcopy(m) for _ in range(3)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(m).to('meta')
    ids = torch.randint(0,100,(3,4,6)); mask=torch.ones_like(ids); mask[:,0,:2]=0
    def f(p,b,i,a): return functional_call(base,(p,b),(i,),{"attention_mask":a, "use_cache": False}).logits
    try:
        out = torch.vmap(f)(params, buffers, ids, mask); print(name, "vmap forward ok", out.shape, flush=True)
    except Exception as e: print(name, "vmap forward with padding mask fails:", type(e).__name__, str(e)[:300], flush=True)
    def g(p,b,i): return functional_call(base,(p,b),(i,),{"use_cache":True}).logits
    try:
        out = torch.vmap(g)(params, buffers, ids); print(name, "vmap with cache ok", flush=True)
    except Exception as e: print(name, "vmap with cache fails:", type(e).__name__, str(e)[:300], flush=True)
