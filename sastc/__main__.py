"""``python -m sastc`` (also what ``torchrun -m sastc train ...`` runs)."""

from sastc.cli import main

if __name__ == "__main__":
    main()
