# Generated from experiments/registry.py by `make registry`: edit the registry, not this.

.PHONY: demo
demo: setup
	$(MAIN) --config experiments/demo.py --workdir $(RUNS)/demo

.PHONY: pca-vs-ae
pca-vs-ae: setup
	$(MAIN) --config experiments/pca_vs_ae.py --workdir $(RUNS)/pca_vs_ae

.PHONY: ae
ae: setup
	$(MAIN) --config experiments/autoencoder_mnist.py --workdir $(RUNS)/ae_mnist

.PHONY: ae-compression
ae-compression: setup
	$(MAIN) --config experiments/ae_compression.py --workdir $(RUNS)/ae_compression

.PHONY: ae-denoising
ae-denoising: setup
	$(MAIN) --config experiments/ae_denoising.py --workdir $(RUNS)/ae_denoising

.PHONY: ae-anomaly
ae-anomaly: setup
	$(MAIN) --config experiments/ae_anomaly.py --workdir $(RUNS)/ae_anomaly

.PHONY: ae-representations
ae-representations: setup
	$(MAIN) --config experiments/ae_representations.py --workdir $(RUNS)/ae_repr

.PHONY: vae
vae: setup
	$(MAIN) --config experiments/vae_mnist.py:burda --workdir $(RUNS)/vae_mnist

.PHONY: vae-budget
vae-budget: setup
	$(MAIN) --config experiments/vae_mnist.py:budget --workdir $(RUNS)/vae_budget

.PHONY: vae-2d
vae-2d: setup
	$(MAIN) --config experiments/vae_mnist.py:2d --workdir $(RUNS)/vae_2d

.PHONY: vae-conv
vae-conv: setup
	$(MAIN) --config experiments/vae_mnist.py:conv --workdir $(RUNS)/vae_conv

.PHONY: vae-gaussian
vae-gaussian: setup
	$(MAIN) --config experiments/vae_mnist.py:gaussian --workdir $(RUNS)/vae_gaussian

.PHONY: vae-iwae
vae-iwae: setup
	$(MAIN) --config experiments/vae_mnist.py:iwae --workdir $(RUNS)/vae_iwae

.PHONY: vae-interpolate
vae-interpolate: setup
	$(MAIN) --config experiments/vae_interpolation.py --workdir $(RUNS)/vae_interpolation

.PHONY: gan-1d
gan-1d: setup
	$(MAIN) --config experiments/gan_1d.py --workdir $(RUNS)/gan_1d

.PHONY: gan-2d
gan-2d: setup
	$(MAIN) --config experiments/gan_2d.py --workdir $(RUNS)/gan_2d

.PHONY: gan-2d-wgan-gp
gan-2d-wgan-gp: setup
	$(MAIN) --config experiments/gan_2d.py:wgan_gp --workdir $(RUNS)/gan_2d_wgan_gp

.PHONY: gan-2d-pacgan-ttur
gan-2d-pacgan-ttur: setup
	$(MAIN) --config experiments/gan_2d.py:pacgan_ttur --workdir $(RUNS)/gan_2d_pacgan_ttur

.PHONY: gan-2d-pacgan-long
gan-2d-pacgan-long: setup
	$(MAIN) --config experiments/gan_2d.py:pacgan_long --workdir $(RUNS)/gan_2d_pacgan_long

.PHONY: gan-mnist
gan-mnist: setup
	$(MAIN) --config experiments/gan_mnist.py --workdir $(RUNS)/gan_mnist

.PHONY: gan-mnist-wgan-gp
gan-mnist-wgan-gp: setup
	$(MAIN) --config experiments/gan_mnist.py:wgan_gp --workdir $(RUNS)/gan_mnist_wgan_gp

.PHONY: cond-mnist
cond-mnist: setup
	$(MAIN) --config experiments/cond_mnist.py --workdir $(RUNS)/cond_mnist

.PHONY: vq-mnist
vq-mnist: setup
	$(MAIN) --config experiments/vq_mnist.py --workdir $(RUNS)/vq_mnist

.PHONY: rnn-adding
rnn-adding: setup
	$(MAIN) --config experiments/rnn_adding.py --workdir $(RUNS)/rnn_adding

.PHONY: rnn-lag-sweep
rnn-lag-sweep: setup
	$(MAIN) --config experiments/rnn_adding.py:sweep --workdir $(RUNS)/rnn_adding

.PHONY: rnn-lag-sweep-long
rnn-lag-sweep-long: setup
	$(MAIN) --config experiments/rnn_adding.py:long --workdir $(RUNS)/rnn_adding

.PHONY: rnn-adding-ablation
rnn-adding-ablation: setup
	$(MAIN) --config experiments/rnn_adding.py:ablation --workdir $(RUNS)/rnn_adding_ablation

.PHONY: rnn-adding-chrono
rnn-adding-chrono: setup
	$(MAIN) --config experiments/rnn_adding.py:chrono --workdir $(RUNS)/rnn_adding_chrono

.PHONY: rnn-gradients
rnn-gradients: setup
	$(MAIN) --config experiments/rnn_gradients.py --workdir $(RUNS)/rnn_gradients --config.trained_runs=$(RUNS)/rnn_adding

.PHONY: rnn-copy
rnn-copy: setup
	$(MAIN) --config experiments/rnn_copy.py --workdir $(RUNS)/rnn_copy

.PHONY: rnn-copy-long
rnn-copy-long: setup
	$(MAIN) --config experiments/rnn_copy.py:long --workdir $(RUNS)/rnn_copy_long

.PHONY: rnn-copy-chrono
rnn-copy-chrono: setup
	$(MAIN) --config experiments/rnn_copy.py:chrono --workdir $(RUNS)/rnn_copy_chrono

.PHONY: rnn-mnist
rnn-mnist: setup
	$(MAIN) --config experiments/rnn_mnist.py --workdir $(RUNS)/rnn_mnist

.PHONY: char-lm
char-lm: setup
	$(MAIN) --config experiments/rnn_char_lm.py --workdir $(RUNS)/char_lm

.PHONY: seq2seq
seq2seq: setup
	$(MAIN) --config experiments/rnn_seq2seq.py --workdir $(RUNS)/seq2seq

.PHONY: seq-vae
seq-vae: setup
	$(MAIN) --config experiments/seq_vae.py --workdir $(RUNS)/seq_vae

.PHONY: seq-vae-long
seq-vae-long: setup
	$(MAIN) --config experiments/seq_vae.py:long --workdir $(RUNS)/seq_vae_long

.PHONY: seq-vae-blocks
seq-vae-blocks: setup
	$(MAIN) --config experiments/seq_vae.py:blocks --workdir $(RUNS)/seq_vae_blocks
