B
conv1.biasJp|Œ½´ÃH>¦øµ¼YèÃ»Ô©@¾Žò¾