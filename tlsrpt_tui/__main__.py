from tlsrpt_tui.cli import run

# Guarded: multiprocessing's forkserver/spawn children import the main module.
if __name__ == "__main__":
    run()
