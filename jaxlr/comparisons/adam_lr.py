"""adam-lr: Adam's learning rate on a 7-layer CNN.

The 7-layer CNN (conv 3->16 stride 2, 16->64 + pool, 64->128,
128->256 + pool, 256->512, 512->512 + pool, 512->256, dense 1024->100),
cross-entropy, Adam (beta 0.9/0.999, eps 1e-8 as PyTorch) at
lr 1e-1, 1e-3, 3e-4 and 6.25e-5, batch 128.

CIFAR-100 when its files are given (``--dataset cifar100 --data-dir DIR``);
Fashion-MNIST by default here (10 classes, 28x28x1: the dense layer then
sees 256 features).
"""

from jaxlr.compare import Comparison, Run

COMPARISON = Comparison(
    name="adam-lr",
    title="7-layer CNN, Adam at four learning rates",
    dataset="fashion_mnist",
    model="adam_lr_cnn",
    batch_size=128,
    epochs=10,
    seed=0,
    runs=tuple(Run(f"Adam {lr:g}", "adam", dict(lr=lr, b1=0.9, b2=0.999, eps=1e-8))
               for lr in (1e-1, 1e-3, 3e-4, 6.25e-5)),
    published={},
    published_note=("The reference reports that 1e-1 fails to train and that 3e-4 "
                    "(Karpathy's constant) works well; no table of accuracies."),
)
