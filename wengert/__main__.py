"""``python -m wengert <command>``."""
import argparse
import sys


def _demo(args):
    from . import demo
    return demo.main(seed=args.seed, epochs=args.epochs, progress=not args.no_progress)


def _coverage(args):
    from .tools.coverage import coverage_markdown
    print(coverage_markdown())


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m wengert",
                                     description="wengert: exact derivatives of NumPy programs.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True
    p = sub.add_parser("demo", help="differentiate the founding examples and train a digits classifier",
                       description="Differentiate the founding documents' examples (with checks), then "
                                   "train an MLP on scikit-learn's 8x8 digits with hand-written Adam.")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_demo)
    c = sub.add_parser("coverage", help="print the table of differentiable functions (markdown)")
    c.set_defaults(func=_coverage)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
