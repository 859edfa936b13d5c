"""Bad input gets one clear error that names the valid choices or the fix."""
import pytest

from qrepro import data, models
from qrepro.chapters import first_phase, get_chapter
from qrepro.methods import get_method
from qrepro.cli import main
from qrepro.params import infer_scalar, parse_list


@pytest.mark.parametrize("bit", [1, 7, "2,7", "two", ""])
def test_apot_refuses_unsupported_bit_widths(bit):
    with pytest.raises(ValueError, match="bit"):
        first_phase("apot", bit=bit)


@pytest.mark.parametrize("name, value, error", [
    ("epochs", "abc", TypeError), ("epochs", 2.5, TypeError), ("epochs", -1, ValueError), ("seeds", 0, ValueError),
    ("seeds", True, TypeError), ("arch", "vgg9", ValueError), ("profile", "huge", ValueError), ("data", 3, TypeError),
])
def test_apot_parameters_of_the_wrong_type_or_range(name, value, error):
    with pytest.raises(error, match=name):
        first_phase("apot", **{name: value})


def test_comma_separated_lists_parse_in_one_place():
    assert parse_list("4, 3,2", int, "bit") == [4, 3, 2]
    assert parse_list(2, int, "bit") == [2]
    assert parse_list([4, "3"], int, "bit") == [4, 3]
    assert [infer_scalar(s) for s in ("2", "0.5", "true", "4,3")] == [2, 0.5, True, "4,3"]


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="resnet20"):
        models.create("resnet21")
    with pytest.raises(ValueError, match="digits"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="apot"):
        get_method("lsq")
    with pytest.raises(ValueError, match="apot"):
        get_chapter("lsq")


def test_missing_cifar10_names_the_download_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m qrepro data download cifar10"):
        data.load("cifar10", root=tmp_path)


def test_cli_reports_errors_in_one_line(capsys):
    assert main(["run", "apot", "-p", "bit", "7"]) == 2
    assert "valid: 5, 4, 3, 2" in capsys.readouterr().err
    assert main(["run", "apot", "-p", "colour", "red"]) == 2
    assert "valid: bit, arch" in capsys.readouterr().err
    assert main(["run", "apot", "-p", "data", "cifar10", "-p", "data_root", "/nonexistent", "-p", "profile",
                 "quick"]) == 2
    assert "python -m qrepro data download cifar10" in capsys.readouterr().err


def test_cli_refuses_what_several_chapters_or_workers_cannot_do(capsys, monkeypatch):
    assert main(["run", "apot", "sq", "--shard", "0/2"]) == 2
    assert "give one chapter" in capsys.readouterr().err
    assert main(["run", "apot", "sq", "-p", "bit", "2"]) == 2
    assert "chapter sq has no parameter(s) ['bit']" in capsys.readouterr().err
    assert main(["run", "all", "--workers", "none"]) == 2
    assert "workers must be 'auto' or a whole number >= 1" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["run", "apot", "--workers", "2"]) == 2
    assert "not under torchrun" in capsys.readouterr().err


def test_a_kernel_cache_that_cannot_be_created_trains_eager_with_one_warning(tmp_path, monkeypatch):
    import warnings

    from qrepro.quantizers import cpu_kernels

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(cpu_kernels, "BUILD_DIRECTORY", blocker / "torch_extensions")
    monkeypatch.setenv("QREPRO_KERNELS", "auto")
    cpu_kernels._build.cache_clear()
    cpu_kernels._warn_once.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert cpu_kernels.kernels() is None and cpu_kernels.kernels() is None
        warned = [str(w.message) for w in caught if "did not build" in str(w.message)]
        assert len(warned) == 1 and "Not a directory" in warned[0]  # once, with the reason
        monkeypatch.setenv("QREPRO_KERNELS", "compiled")
        with pytest.raises(RuntimeError, match="QREPRO_KERNELS=compiled, but the fused CPU kernels did not build"):
            cpu_kernels.kernels()
    finally:
        cpu_kernels._build.cache_clear()
        cpu_kernels._warn_once.cache_clear()
