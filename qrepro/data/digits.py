"""scikit-learn's embedded digits: 1797 grey 8x8 images, the default data set for tests and CI.

Pixel values 0..16 are scaled to uint8 0..255 (round(v * 255 / 16)). The train/test split is a
fixed stratified split (360 test images, seed 0), so every machine trains on the same images.
"""

import torch

from .dataset import AUGMENTATION, ImageData, channel_stats

TEST_SIZE = 360
SPLIT_SEED = 0


def load_digits() -> ImageData:
    """The digits data set as ImageData: 1437 train / 360 test images, 1 x 8 x 8, 10 classes."""
    from sklearn.datasets import load_digits as sklearn_digits  # here: it adds seconds to `import qrepro.data`
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    x = torch.from_numpy(bunch.images).mul(255 / 16).round().to(torch.uint8).unsqueeze(1)
    y = torch.from_numpy(bunch.target).to(torch.int64)
    train, test = train_test_split(
        torch.arange(len(y)).numpy(), test_size=TEST_SIZE, stratify=y.numpy(), random_state=SPLIT_SEED
    )
    train, test = torch.from_numpy(train).sort().values, torch.from_numpy(test).sort().values
    mean, std = channel_stats(x[train])
    return ImageData(
        name="digits",
        train_x=x[train],
        train_y=y[train],
        test_x=x[test],
        test_y=y[test],
        classes=tuple(str(int(c)) for c in bunch.target_names),
        mean=mean,
        std=std,
        crop_pad=AUGMENTATION["digits"][0],
        flip=AUGMENTATION["digits"][1],
    )
