"""The exercise checkers: every correct implementation passes, every typical mistake gets a precise hint."""

import re

import pytest
import torch
import torch.nn.functional as F

import gaplib
from gaplib.checks import CheckFailed, check_class_activation_maps, check_global_avg_pool

ADAPTIVE = {3: F.adaptive_avg_pool1d, 4: F.adaptive_avg_pool2d, 5: F.adaptive_avg_pool3d}


def gap_in_place(x):
    x /= x[0, 0].numel()
    return x.flatten(2).sum(-1)


def gap_by_loop(x):
    flat = x.flatten(2)
    total = torch.zeros_like(flat[:, :, 0])
    for position in range(flat.shape[2]):
        total = total + flat[:, :, position]
    return total / flat.shape[2]


CORRECT_GAP = {
    "mean": lambda x: x.mean(dim=tuple(range(2, x.dim()))),
    "flatten-mean": lambda x: x.flatten(2).mean(-1),
    "adaptive pooling": lambda x: ADAPTIVE[x.dim()](x, 1).flatten(1),
    "loop": gap_by_loop,
    "einsum": lambda x: torch.einsum("ncp->nc", x.flatten(2)) / x.flatten(2).shape[-1],
}

WRONG_GAP = {
    "4-D only": (lambda x: x.mean(dim=(2, 3)), "raised IndexError on a 3-D input"),
    "2-D pooling only": (lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1), "on a 3-D input"),
    "sum": (lambda x: x.flatten(2).sum(-1), "20 times too large: that is a sum"),
    "square only": (lambda x: x.flatten(2).sum(-1) / x.shape[-1] ** 2, "off by a factor 0.8"),
    "mean over channels": (lambda x: x.mean(dim=1), "expected output shape (2, 3)"),
    "keepdim": (lambda x: x.mean(dim=tuple(range(2, x.dim())), keepdim=True), "expected output shape (2, 3)"),
    "float32 out": (lambda x: x.flatten(2).mean(-1).float(), "expected dtype torch.float64"),
    "numpy detour": (lambda x: torch.from_numpy(x.detach().numpy().reshape(*x.shape[:2], -1).mean(-1)),
                     "does not require grad"),
    "returns numpy": (lambda x: x.detach().flatten(2).mean(-1).numpy(), "expected a torch.Tensor, got ndarray"),
    "stub": (lambda x: (_ for _ in ()).throw(NotImplementedError("write me")), "raised NotImplementedError"),
    "squeeze (needs sizes >= 2)": (lambda x: x.flatten(2).mean(-1).squeeze(), "got (2). Average over every "
                                   "spatial dim, whatever their number, and keep N and C (a size-1 dim lost"),
    "in place": (gap_in_place, "changed its input (argument 1) in place"),
    "max": (lambda x: x.flatten(2).amax(-1), "global max pooling"),
    "nan": (lambda x: x.flatten(2).mean(-1) * float("nan"), "contains NaN"),
    "detached then re-attached": (lambda x: x.detach().flatten(2).mean(-1).requires_grad_(x.requires_grad),
                                  "no gradient reaches x"),
    "gaplib's own": (gaplib.global_avg_pool, "gaplib's own global_avg_pool, not yours"),
    "gaplib wrapper": (lambda x: gaplib.global_avg_pool(x), "calls gaplib's own global_avg_pool"),
    "gaplib.pooling wrapper": (lambda x: gaplib.pooling.global_avg_pool(x), "calls gaplib's own"),
}


@pytest.mark.parametrize("name", CORRECT_GAP)
def test_every_correct_gap_passes(name):
    check_global_avg_pool(CORRECT_GAP[name])


@pytest.mark.parametrize("name", WRONG_GAP)
def test_each_wrong_gap_gets_a_precise_message(name):
    fn, message = WRONG_GAP[name]
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_global_avg_pool(fn)


CORRECT_CAM = {
    "einsum": lambda f, w: torch.einsum("kc,nchw->nkhw", w, f),
    "1x1 convolution": lambda f, w: F.conv2d(f, w[:, :, None, None]),
    "broadcast": lambda f, w: (w[None, :, :, None, None] * f[:, None]).sum(2),
    "matmul": lambda f, w: (w @ f.flatten(2)).reshape(f.shape[0], w.shape[0], *f.shape[2:]),
}

WRONG_CAM = {
    "relu": (lambda f, w: torch.relu(torch.einsum("kc,nchw->nkhw", w, f)), "without ReLU"),
    "averaged": (lambda f, w: torch.einsum("kc,nchw->nkhw", w, f) / f[0, 0].numel(), "up to a factor 0.05"),
    "pooled": (lambda f, w: torch.einsum("kc,nchw->nk", w, f), r"expected shape \(2, 6, 4, 5\)"),
    "transposed": (lambda f, w: torch.einsum("ck,nchw->nkhw", w, f) if w.shape[0] == w.shape[1]
                   else torch.einsum("kc,nchw->nkhw", w, f), "transposed"),
    "float32 out": (lambda f, w: torch.einsum("kc,nchw->nkhw", w.float(), f.float()), "expected dtype torch.float64"),
    "detached": (lambda f, w: torch.einsum("kc,nchw->nkhw", w, f).detach(), "does not require grad"),
    "crash": (lambda f, w: f @ w, "raised RuntimeError on features"),
    "in place": (lambda f, w: torch.einsum("kc,nchw->nkhw", w, f.clamp_(min=0)), "changed its input"),
    "nan": (lambda f, w: torch.einsum("kc,nchw->nkhw", w, f).log(), "contains NaN"),
    "gaplib's own": (gaplib.class_activation_maps, "gaplib's own class_activation_maps, not yours"),
    "gaplib wrapper": (lambda f, w: gaplib.cam.class_activation_maps(f, w), "calls gaplib's own"),
}


@pytest.mark.parametrize("name", CORRECT_CAM)
def test_every_correct_cam_passes(name):
    check_class_activation_maps(CORRECT_CAM[name])


@pytest.mark.parametrize("name", WRONG_CAM)
def test_each_wrong_cam_gets_a_precise_message(name):
    fn, message = WRONG_CAM[name]
    with pytest.raises(AssertionError, match=message):
        check_class_activation_maps(fn)


def test_messages_never_reveal_the_solution():
    for fn, _ in [*WRONG_GAP.values(), *WRONG_CAM.values()]:
        for check in (check_global_avg_pool, check_class_activation_maps):
            try:
                check(fn)
            except AssertionError as error:
                assert "einsum" not in str(error) and ".mean(" not in str(error)
            except Exception as error:  # noqa: BLE001 - a checker must never leak a raw exception
                pytest.fail(f"{check.__name__} leaked {type(error).__name__}: {error}")


def test_a_failed_check_shows_only_its_message_in_ipython():
    with pytest.raises(CheckFailed) as caught:
        check_global_avg_pool(lambda x: x.flatten(2).sum(-1))
    assert isinstance(caught.value, AssertionError)  # plain Python and pytest still see an assertion
    shown = caught.value._render_traceback_()  # what IPython prints instead of a traceback
    assert len(shown) == 1 and str(caught.value) in shown[0] and "checks" not in shown[0].replace(
        str(caught.value), "")


def test_a_right_answer_prints_a_confirmation(capsys):
    check_global_avg_pool(CORRECT_GAP["mean"])
    out = capsys.readouterr().out
    assert out.startswith("✓ global_avg_pool passes") and max(map(len, out.splitlines())) <= 80


def test_a_crash_is_explained_not_raised():
    with pytest.raises(CheckFailed, match=r"raised ZeroDivisionError .*\n  Hint: a division by zero"):
        check_global_avg_pool(lambda x: 1 / 0)
