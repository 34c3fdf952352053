"""Int8 weight-only quantization keeps the model's predictions close and generation working."""

import torch

from rfs.generate import generate
from rfs.quantize import Int8Linear, quantize_int8


def test_int8_model_predicts_almost_the_same(tiny_model, tiny_tokenizer):
    ids = torch.randint(0, 320, (2, 16))
    with torch.no_grad():
        exact = tiny_model(ids)
        quantized = quantize_int8(tiny_model)
        approx = quantized(ids)
    assert all(not isinstance(m, torch.nn.Linear) for m in quantized.modules())
    assert isinstance(quantized.lm_head, Int8Linear)
    relative = (approx - exact).abs().max() / exact.abs().max()
    assert relative < 0.02
    assert (approx.argmax(-1) == exact.argmax(-1)).float().mean() > 0.9
    [[completion]] = generate(quantized, tiny_tokenizer, ["Hello there"], max_new_tokens=5)
    assert len(completion.token_ids) == 5


def test_int8_halves_the_weight_bytes(tiny_model):
    bf16 = tiny_model.to(torch.bfloat16)
    linear_bytes = sum(m.weight.numel() * 2 for m in bf16.modules() if isinstance(m, torch.nn.Linear))
    quantized = quantize_int8(bf16)
    int8_bytes = sum(m.weight_int8.numel() + m.scale.numel() * 2 for m in quantized.modules()
                     if isinstance(m, Int8Linear))
    assert int8_bytes < 0.6 * linear_bytes
