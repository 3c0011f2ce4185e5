"""Train a data set's judge classifier and write its weights (the data set's ``judge`` file).

Usage: ``python -m vaegrade.reference.train_classifier [--dataset mnist|fashion_mnist] [--epochs 8] [--seed 0]``

Trains :class:`vaegrade.reference.classifier.JudgeCNN` on the training images of the shipped
copy of the data set (random shifts of up to 2 pixels, and for Fashion-MNIST random horizontal
flips; Adam with a one-cycle schedule), then prints the accuracy on the test images and
the sha256 of the weights file, which must be pinned as the data set's ``judge_sha256``. The test set is used once, after training, never to
choose anything.
"""

from __future__ import annotations

import argparse
import io
import time

import torch
from torch import nn

from vaegrade.reference.classifier import JudgeCNN
from vaegrade.reference.data import DATASETS, images_to_tensor, load_dataset, sha256_file


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image of (B, 1, H, W) by up to ``max_shift`` pixels in x and y, zero-filled."""
    height, width = x.shape[-2:]
    padded = nn.functional.pad(x, [max_shift] * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, len(x)), generator=generator)
    rows = (torch.arange(height)[None, :] + dy[:, None])[:, None, :, None].expand(-1, 1, height, width + 2 * max_shift)
    out = padded.gather(2, rows)
    cols = (torch.arange(width)[None, :] + dx[:, None])[:, None, None, :].expand(-1, 1, height, width)
    return out.gather(3, cols)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum((model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum().item() for i in range(0, len(x), 1000))
    return correct / len(x)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    mnist = load_dataset(args.dataset)
    flips = args.dataset == "fashion_mnist"  # clothes are left-right symmetric; digits are not
    x_train, y_train = images_to_tensor(mnist.x_train), torch.from_numpy(mnist.y_train).long()
    x_test, y_test = images_to_tensor(mnist.x_test), torch.from_numpy(mnist.y_test).long()

    model = JudgeCNN(DATASETS[args.dataset])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = args.epochs * ((len(x_train) + args.batch_size - 1) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    for epoch in range(args.epochs):
        model.train()
        start, total = time.time(), 0.0
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order), args.batch_size):
            batch = order[i : i + args.batch_size]
            x = random_shift(x_train[batch], 2, generator)
            if flips:
                flip = torch.rand(len(x), generator=generator) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = nn.functional.cross_entropy(model(x), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {total / len(x_train):.4f} ({time.time() - start:.0f} s)")

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    weights = DATASETS[args.dataset].judge
    weights.write_bytes(buffer.getvalue())
    print(f"test accuracy {accuracy(model, x_test, y_test):.4%} on {len(x_test)} images")
    print(f"wrote {weights} sha256 {sha256_file(weights)}")


if __name__ == "__main__":
    main()
